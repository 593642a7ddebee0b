// Walking workflow definitions: nested branches are found from the step types' JSON Schemas
// (lists marked "x-steps"), so a new branching step type needs no change here.

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The property of an object schema that holds a step list (e.g. a switch case's `steps`). */
function stepsPropOf(schema) {
  for (const [k, ps] of Object.entries(schema?.properties ?? {})) if (ps?.['x-steps']) return k;
  return undefined;
}

export function caseLabel(prop, item, i) {
  const singular = prop.endsWith('s') ? prop.slice(0, -1) : prop;
  return isObject(item) && 'value' in item ? `${singular} ${JSON.stringify(item.value)}` : `${singular} ${i + 1}`;
}

/**
 * The branches of a step: `{key, label, path, list(), ensure(), optional}` where `path` is relative
 * to the step (`then`, `cases[0].steps`, `default.steps`) as in validation error paths.
 */
export function branchSlots(step, info) {
  const schema = info?.schema;
  const required = new Set(schema?.required ?? []);
  const out = [];
  for (const [prop, ps] of Object.entries(schema?.properties ?? {})) {
    if (ps?.['x-steps']) {
      out.push({
        key: prop,
        label: prop,
        path: prop,
        optional: !required.has(prop),
        list: () => (Array.isArray(step[prop]) ? step[prop] : []),
        ensure: () => (Array.isArray(step[prop]) ? step[prop] : (step[prop] = [])),
        prune: () => {
          if (!required.has(prop) && Array.isArray(step[prop]) && step[prop].length === 0) delete step[prop];
        },
      });
    } else if (ps?.type === 'array' && ps.items?.type === 'object') {
      const inner = stepsPropOf(ps.items);
      if (!inner || !Array.isArray(step[prop])) continue;
      step[prop].forEach((item, i) => {
        if (!isObject(item)) return;
        out.push({
          key: `${prop}[${i}]`,
          label: caseLabel(prop, item, i),
          path: `${prop}[${i}].${inner}`,
          optional: false,
          list: () => (Array.isArray(item[inner]) ? item[inner] : []),
          ensure: () => (Array.isArray(item[inner]) ? item[inner] : (item[inner] = [])),
          prune: () => {},
        });
      });
    } else if (ps?.type === 'object') {
      const inner = stepsPropOf(ps);
      const item = step[prop];
      if (!inner || !isObject(item)) continue;
      out.push({
        key: prop,
        label: prop,
        path: `${prop}.${inner}`,
        optional: false,
        list: () => (Array.isArray(item[inner]) ? item[inner] : []),
        ensure: () => (Array.isArray(item[inner]) ? item[inner] : (item[inner] = [])),
        prune: () => {},
      });
    }
  }
  return out;
}

/**
 * Every step of a definition, depth first in execution order, with its JSON path
 * (`$.stages[0].steps[1].then[0]`), its list and index, its stage, and the branch it sits in.
 */
export function walkSteps(def, types) {
  const out = [];
  const visit = (list, basePath, stageIndex, stage, parent, slot, depth) => {
    if (!Array.isArray(list)) return;
    list.forEach((step, index) => {
      if (!isObject(step)) return;
      const path = `${basePath}[${index}]`;
      const entry = { step, path, list, index, stageIndex, stage, parent, slot, depth };
      out.push(entry);
      for (const s of branchSlots(step, types.get(step.type))) visit(s.list(), `${path}.${s.path}`, stageIndex, stage, entry, s, depth + 1);
    });
  };
  for (const [i, stage] of (Array.isArray(def?.stages) ? def.stages : []).entries()) {
    visit(stage?.steps, `$.stages[${i}].steps`, i, stage, null, null, 0);
  }
  return out;
}

const within = (path, prefix) => path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);

/**
 * Sorts validation issues onto what they are about: the deepest step whose path prefixes the
 * issue's path, else the stage, else the workflow. Returns Maps keyed by step/stage objects.
 */
export function placeIssues(def, types, issues) {
  const steps = walkSteps(def, types).sort((a, b) => b.path.length - a.path.length);
  const byStep = new Map();
  const byStage = new Map();
  const workflow = [];
  for (const issue of issues ?? []) {
    const hit = steps.find((e) => within(issue.path, e.path));
    if (hit) {
      const rel = issue.path.slice(hit.path.length);
      if (!byStep.has(hit.step)) byStep.set(hit.step, []);
      byStep.get(hit.step).push({ ...issue, rel });
      continue;
    }
    const m = /^\$\.stages\[(\d+)\]/.exec(issue.path);
    const stage = m ? def.stages?.[Number(m[1])] : undefined;
    if (stage) {
      if (!byStage.has(stage)) byStage.set(stage, []);
      byStage.get(stage).push({ ...issue, rel: issue.path.slice(m[0].length) });
    } else workflow.push(issue);
  }
  return { byStep, byStage, workflow };
}

/** A short line about a step's parameters for its card. */
export function summarize(step, info) {
  const parts = [];
  for (const [k, ps] of Object.entries(info?.schema?.properties ?? {})) {
    if (ps?.['x-steps'] || !(k in step)) continue;
    const v = step[k];
    if (isObject(v)) continue;
    if (Array.isArray(v) && v.some(isObject)) continue;
    parts.push(`${k}: ${Array.isArray(v) ? v.join(', ') : JSON.stringify(v)}`);
    if (parts.length === 3) break;
  }
  return parts.join(' · ');
}

/** URL-safe ids: "Stage 2" → "stage-2". */
export function slugify(text, fallback = 'stage') {
  const s = String(text)
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 56);
  return /^[a-z0-9]/.test(s) ? s : fallback;
}

export function uniqueId(base, used) {
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) if (!used.has(`${base}-${n}`)) return `${base}-${n}`;
}
