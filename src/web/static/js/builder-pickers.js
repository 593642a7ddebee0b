// Catalogs the builder picks from: principals and roles, templates, dataflows, fields (the
// workflow's own field references and recent runs' models), and stages for goto targets.
// A catalog that cannot be read (not a designer, or an older server) is simply absent.
import { enc, get } from './api.js';
import { walkSteps } from './definition.js';

const FIELD_KEY = /(^field$|Field$|^input$)/;
const PLACEHOLDER = /\{\{\s*(?:model\.)?([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)/g;

export async function loadCatalogs(workflowName) {
  const soft = (p) => p.catch(() => null);
  const [principals, templates, dataflows, runs] = await Promise.all([
    soft(get('/api/principals')),
    soft(get('/api/templates')),
    soft(get('/api/dataflows')),
    workflowName ? soft(get(`/api/runs?workflow=${enc(workflowName)}&limit=20`)) : null,
  ]);
  const modelFields = new Set();
  for (const run of runs?.items ?? []) collectPaths(run.model, '', modelFields, 0);
  return {
    principals: principals?.items ?? null,
    roles: principals?.roles ?? null,
    templates: templates ? templates.items.map((t) => t.name) : null,
    dataflows: dataflows ? dataflows.items.map((d) => d.name) : null,
    modelFields,
  };
}

function collectPaths(value, prefix, out, depth) {
  if (!value || typeof value !== 'object' || Array.isArray(value) || depth > 3) return;
  for (const [k, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${k}` : k;
    out.add(path);
    collectPaths(v, path, out, depth + 1);
  }
}

/** Field paths the definition names (conditions, writes, placeholders in messages). */
export function fieldsOf(def, types) {
  const read = new Set();
  const all = new Set();
  for (const { step } of walkSteps(def, types)) {
    for (const [k, v] of Object.entries(step)) {
      if (typeof v === 'string' && FIELD_KEY.test(k)) {
        all.add(v);
        if (!['updateModelField'].includes(step.type) && k !== 'confirmationField' && k !== 'resultField') read.add(v);
      }
      if (typeof v === 'string' && /message|subject|body/i.test(k))
        for (const m of v.matchAll(PLACEHOLDER)) {
          all.add(m[1]);
          read.add(m[1]);
        }
    }
  }
  return { read: [...read], all: [...all] };
}

/** The principal refs a list may name: user ids (with names) and role:<name>. */
export function principalOptions(cat) {
  if (!cat.principals) return null;
  return [
    ...cat.principals.map((p) => ({ value: p.id, label: p.name ? `${p.name} (${p.roles.join(', ') || 'no roles'})` : p.roles.join(', ') })),
    ...(cat.roles ?? []).map((r) => ({ value: `role:${r}`, label: `everyone with role ${r}` })),
  ];
}

/**
 * The schema-form `suggest` hook: options for a parameter, by its name.
 * {select: true} renders a select (goto targets), otherwise a datalist; {multi} for lists.
 */
export function suggester(builder) {
  return (key, kind) => {
    const cat = builder.catalogs;
    const def = builder.def;
    if (/Goto$|^goto$/.test(key)) return { select: true, options: def.stages.map((s) => ({ value: s.id, label: s.name || s.id })) };
    if (!cat) return null;
    if (key === 'template' && cat.templates) return { options: cat.templates.map((v) => ({ value: v })) };
    if (key === 'dataflow' && cat.dataflows) return { options: cat.dataflows.map((v) => ({ value: v })) };
    if (kind === 'strings' && /^(users|routing)$/.test(key)) {
      const options = principalOptions(cat);
      return options ? { multi: true, options } : null;
    }
    if (kind === 'string' && FIELD_KEY.test(key)) {
      const fields = new Set([...fieldsOf(def, builder.types).all, ...cat.modelFields]);
      return { options: [...fields].sort().map((v) => ({ value: v })) };
    }
    return null;
  };
}

/** Warnings for names no catalog knows, as validation issues ({path, message}). */
export function unknownReferences(builder) {
  const cat = builder.catalogs;
  if (!cat) return [];
  const out = [];
  const known = new Set([...(cat.principals ?? []).map((p) => p.id), ...(cat.roles ?? []).map((r) => `role:${r}`)]);
  const checkRefs = (list, path) => {
    if (!cat.principals || !Array.isArray(list)) return;
    list.forEach((ref, i) => {
      if (typeof ref !== 'string' || known.has(ref) || /^https?:|@/.test(ref)) return;
      out.push({
        path: `${path}[${i}]`,
        message: ref.startsWith('role:') ? `nobody has the role “${ref.slice(5)}”` : `no user “${ref}” is known`,
      });
    });
  };
  for (const { step, path } of walkSteps(builder.def, builder.types)) {
    if (
      step.type === 'sendTemplatedNotification' &&
      cat.templates &&
      typeof step.template === 'string' &&
      step.template &&
      !cat.templates.includes(step.template)
    ) {
      out.push({ path: `${path}.template`, message: `there is no template “${step.template}”` });
    }
    if (
      step.type === 'executeDataflow' &&
      cat.dataflows &&
      typeof step.dataflow === 'string' &&
      step.dataflow &&
      !cat.dataflows.includes(step.dataflow)
    ) {
      out.push({ path: `${path}.dataflow`, message: `there is no dataflow “${step.dataflow}”` });
    }
    checkRefs(step.users, `${path}.users`);
    checkRefs(step.routing, `${path}.routing`);
  }
  for (const [action, list] of Object.entries(builder.def.access ?? {})) checkRefs(list, `$.access.${action}`);
  return out;
}
