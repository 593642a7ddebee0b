// The canvas: stages as columns (stacked on a phone), step cards with their branches, and SVG
// connectors that show the flow: step to step, out into branches and back, goto and finish ends.
import { h, humanize, replace } from './dom.js';
import { branchSlots } from './definition.js';
import { describeStep, groupClass, iconOf } from './builder-look.js';

const SVG = 'http://www.w3.org/2000/svg';

/** The stage a branch's goto names: ifCondition's thenGoto/elseGoto, a case's or default's goto. */
export function gotoOf(step, slot) {
  if (slot.path === slot.key && !slot.key.includes('[')) return step[`${slot.key}Goto`];
  const m = /^(\w+)\[(\d+)\]\./.exec(slot.path);
  if (m) return step[m[1]]?.[Number(m[2])]?.goto;
  const d = /^(\w+)\./.exec(slot.path);
  return d ? step[d[1]]?.goto : undefined;
}

export function renderCanvas(b) {
  const active = b.main.contains(document.activeElement) ? document.activeElement?.dataset?.fk : undefined;
  const target = b.resolveTarget();
  b.cardEls = new Map();
  b.stageEls = new Map();
  b.containers = new Map();
  b.marks = { heads: new Map(), ends: new Map(), branchHeads: new Map(), gotos: new Map() };
  const stages = b.def.stages.map((stage, i) => stageEl(b, stage, i, target));
  const add = b.readOnly
    ? null
    : h(
        'button',
        {
          type: 'button',
          class: 'add-stage',
          id: 'add-stage',
          title: 'Add stage',
          aria: { label: 'Add stage' },
          dataset: { fk: 'add-stage' },
          onclick: () => b.addStage(),
        },
        '+',
      );
  b.svg = document.createElementNS(SVG, 'svg');
  b.svg.setAttribute('class', 'connectors');
  b.svg.setAttribute('aria-hidden', 'true');
  replace(
    b.canvas,
    b.svg,
    ...stages,
    add,
    !stages.length ? h('p', { class: 'muted empty-canvas' }, b.readOnly ? 'No stages.' : 'No stages yet: “+” adds one.') : null,
  );
  b.applyIssues();
  if (active) b.refocus(active);
  requestAnimationFrame(() => drawConnectors(b));
}

function stageEl(b, stage, i, target) {
  const ro = b.readOnly;
  const sid = b.uid(stage);
  const count = b.def.stages.length;
  const label = stage.name || stage.id;
  const steps = Array.isArray(stage.steps) ? stage.steps : [];
  const key = `${sid}:stage`;
  b.containers.set(key, {
    label: `stage “${label}”`,
    list: () => (Array.isArray(stage.steps) ? stage.steps : (stage.steps = [])),
    owner: null,
    stage,
  });
  const isTarget = target?.key === key;
  const head = h(
    'header',
    { class: 'stage-head' },
    h(
      'div',
      { class: 'stage-title' },
      ro
        ? h('h2', { class: 'stage-name-ro' }, label)
        : h('input', {
            type: 'text',
            class: 'stage-name',
            value: stage.name ?? '',
            aria: { label: `Name of stage ${i + 1}` },
            dataset: { fk: `${sid}:name` },
            oninput: (e) => {
              stage.name = e.target.value;
              b.changed({ group: true });
              b.renderToolboxLabel();
            },
            onchange: () => b.renderCanvas(),
          }),
      h('span', { class: 'stage-id' }, `stage ${i + 1}`),
    ),
    ro
      ? null
      : h(
          'div',
          { class: 'stage-tools' },
          h(
            'button',
            {
              type: 'button',
              class: 'icon',
              title: 'Move stage left',
              disabled: i === 0,
              dataset: { fk: `${sid}:left` },
              aria: { label: `Move stage ${label} left` },
              onclick: () => b.moveStage(i, -1),
            },
            '◀',
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'icon',
              title: 'Move stage right',
              disabled: i === count - 1,
              dataset: { fk: `${sid}:right` },
              aria: { label: `Move stage ${label} right` },
              onclick: () => b.moveStage(i, 1),
            },
            '▶',
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'icon danger',
              title: 'Delete stage',
              dataset: { fk: `${sid}:delete` },
              aria: { label: `Delete stage ${label}` },
              onclick: () => b.deleteStage(stage),
            },
            '✕',
          ),
        ),
  );
  const end = h(
    'div',
    { class: 'flow-end stage-end' },
    i === count - 1 ? '● end of the run' : `→ ${b.def.stages[i + 1].name || b.def.stages[i + 1].id}`,
  );
  const el = h(
    'section',
    { class: ['stage', isTarget && !ro && 'target'], dataset: { stageId: stage.id ?? '' }, aria: { label: `Stage ${label}` } },
    head,
    h('ul', { class: 'issues stage-issues' }),
    stepList(b, steps, key, { stageIndex: i, depth: 0 }, target, `Steps of ${label}`),
    ro
      ? null
      : h(
          'button',
          {
            type: 'button',
            class: ['add-here', isTarget && 'pressed'],
            dataset: { fk: `${sid}:add` },
            aria: { label: `Add step to stage ${label}`, pressed: String(isTarget) },
            onclick: () => b.setTarget({ kind: 'stage', stage }),
          },
          '+ Add step',
        ),
    end,
  );
  b.marks.heads.set(stage, head);
  b.marks.ends.set(stage, end);
  b.stageEls.set(stage, el);
  return el;
}

function stepList(b, steps, key, loc, target, label) {
  return h(
    'ol',
    { class: 'steps', dataset: { container: key }, aria: label ? { label } : undefined },
    steps.length
      ? steps.map((step, j) => stepEl(b, step, { ...loc, list: steps, index: j }, target))
      : h('li', { class: 'empty muted' }, b.readOnly ? 'No steps' : 'No steps: drop one here'),
  );
}

function stepEl(b, step, loc, target) {
  const ro = b.readOnly;
  const id = b.uid(step);
  const info = b.types.get(step.type);
  const selected = b.selected === step;
  const label = step.id || '(no id)';
  const card = h(
    'div',
    {
      class: ['card', groupClass(info), selected && 'selected'],
      dataset: { uid: id, stepId: step.id ?? '' },
      draggable: ro ? undefined : 'true',
    },
    h(
      'div',
      { class: 'card-row' },
      h(
        'button',
        {
          type: 'button',
          class: 'card-main',
          dataset: { fk: `${id}:select` },
          aria: {
            pressed: String(selected),
            keyshortcuts: ro ? undefined : 'Alt+ArrowUp Alt+ArrowDown Alt+ArrowLeft Alt+ArrowRight Control+D Delete',
          },
          title: ro ? undefined : 'Alt+arrows move · Ctrl+D duplicates · Delete removes',
          onclick: () => b.select(step),
          onkeydown: ro ? undefined : (e) => b.cardKey(e, step),
        },
        h('span', { class: 'card-icon', aria: { hidden: 'true' } }, iconOf(step.type)),
        h(
          'span',
          { class: 'card-text' },
          h('span', { class: 'card-title' }, step.name || label),
          h('span', { class: 'card-type' }, info ? humanize(step.type) : `unknown type ${step.type}`),
          h('span', { class: 'card-summary' }, describeStep(step, info)),
        ),
      ),
      ro
        ? null
        : h(
            'button',
            {
              type: 'button',
              class: 'icon card-menu',
              title: 'Move, duplicate or remove',
              dataset: { fk: `${id}:menu` },
              aria: { label: `Actions for ${label}`, haspopup: 'dialog' },
              onclick: () => b.openStepMenu(step),
            },
            '⋯',
          ),
    ),
    h('ul', { class: 'issues card-issues' }),
    step.type === 'finish' ? h('div', { class: 'flow-end finish-end' }, `■ ends the run${step.outcome ? `: ${step.outcome}` : ''}`) : null,
  );
  b.cardEls.set(step, card);
  const branches = branchSlots(step, info).map((slot) => {
    const list = slot.list();
    const key = `${id}:${slot.key}`;
    b.containers.set(key, { label: `${slot.label} of ${label}`, list: slot.ensure, owner: step, slot });
    const isTarget = target?.key === key;
    const goto = gotoOf(step, slot);
    const gotoStage = goto ? b.def.stages.find((s) => s.id === goto) : null;
    const head = h('div', { class: 'branch-head' }, slot.label);
    const gotoEl = goto
      ? h('div', { class: 'flow-end goto-end' }, `↪ goes to ${gotoStage ? gotoStage.name || gotoStage.id : `unknown stage ${goto}`}`)
      : null;
    b.marks.branchHeads.set(key, head);
    if (gotoEl) b.marks.gotos.set(key, { el: gotoEl, stage: gotoStage });
    return h(
      'div',
      { class: ['branch', isTarget && !ro && 'target'], role: 'group', aria: { label: `${slot.label} branch of ${label}` } },
      head,
      stepList(b, list, key, { stageIndex: loc.stageIndex, depth: loc.depth + 1 }, target),
      ro
        ? null
        : h(
            'button',
            {
              type: 'button',
              class: ['add-here', 'small', isTarget && 'pressed'],
              dataset: { fk: `${id}:add:${slot.key}` },
              aria: { label: `Add step to ${slot.label} of ${label}`, pressed: String(isTarget) },
              onclick: () => b.setTarget({ kind: 'branch', step, key: slot.key }),
            },
            `+ Add step to ${slot.label}`,
          ),
      gotoEl,
    );
  });
  return h('li', { class: 'step-item', dataset: { uid: id } }, card, branches.length ? h('div', { class: 'branches' }, branches) : null);
}

// ---------------------------------------------------------------- connectors

/** The edges of the flow as [fromEl, toEl, kind] pairs. */
function edges(b) {
  const out = [];
  const visit = (list, exit) => {
    list.forEach((step, i) => {
      const el = b.cardEls.get(step);
      const after = i + 1 < list.length ? b.cardEls.get(list[i + 1]) : exit;
      if (step.type === 'finish') return;
      const slots = branchSlots(step, b.types.get(step.type));
      if (!slots.length) {
        if (after) out.push([el, after, 'next']);
        return;
      }
      for (const slot of slots) {
        const key = `${b.uid(step)}:${slot.key}`;
        const head = b.marks.branchHeads.get(key);
        const gotoMark = b.marks.gotos.get(key);
        const bExit = gotoMark ? gotoMark.el : after;
        out.push([el, head, 'branch']);
        const inner = slot.list();
        if (!inner.length) {
          if (bExit) out.push([head, bExit, 'next']);
        } else {
          out.push([head, b.cardEls.get(inner[0]), 'next']);
          visit(inner, bExit);
        }
        if (gotoMark?.stage) out.push([gotoMark.el, b.marks.heads.get(gotoMark.stage), 'goto']);
      }
    });
  };
  b.def.stages.forEach((stage, i) => {
    const steps = Array.isArray(stage.steps) ? stage.steps : [];
    const head = b.marks.heads.get(stage);
    const end = b.marks.ends.get(stage);
    if (steps.length) {
      out.push([head, b.cardEls.get(steps[0]), 'next']);
      visit(steps, end);
    } else out.push([head, end, 'next']);
    const nextStage = b.def.stages[i + 1];
    // side by side: head to head; stacked (a phone): from this stage's end down to the next
    if (nextStage) out.push([head, b.marks.heads.get(nextStage), 'stage', end]);
  });
  return out.filter(([a, c]) => a && c);
}

export function drawConnectors(b) {
  const svg = b.svg;
  if (!svg?.isConnected) return;
  const zoom = b.zoom || 1;
  const base = b.canvas.getBoundingClientRect();
  const rel = (el) => {
    const r = el.getBoundingClientRect();
    return { x: (r.left - base.left) / zoom, y: (r.top - base.top) / zoom, w: r.width / zoom, h: r.height / zoom };
  };
  svg.setAttribute('width', String(b.canvas.scrollWidth));
  svg.setAttribute('height', String(b.canvas.scrollHeight));
  const defs = document.createElementNS(SVG, 'defs');
  for (const kind of ['next', 'goto']) {
    const marker = document.createElementNS(SVG, 'marker');
    marker.setAttribute('id', `arrow-${kind}`);
    for (const [k, v] of Object.entries({
      viewBox: '0 0 10 10',
      refX: '9',
      refY: '5',
      markerWidth: '7',
      markerHeight: '7',
      orient: 'auto-start-reverse',
    }))
      marker.setAttribute(k, v);
    const tip = document.createElementNS(SVG, 'path');
    tip.setAttribute('d', 'M 0 0 L 10 5 L 0 10 z');
    tip.setAttribute('class', `arrow-tip tip-${kind}`);
    marker.append(tip);
    defs.append(marker);
  }
  const paths = edges(b).map(([from, to, kind, stackedFrom]) => {
    let a = rel(from);
    const c = rel(to);
    if (stackedFrom && c.y > a.y + a.h) a = rel(stackedFrom);
    let d;
    if (c.y >= a.y + a.h - 4 && Math.abs(c.x + c.w / 2 - (a.x + a.w / 2)) < Math.max(a.w, c.w)) {
      const x1 = a.x + Math.min(a.w / 2, 24);
      const y1 = a.y + a.h;
      const x2 = c.x + Math.min(c.w / 2, 24);
      const y2 = c.y;
      const m = Math.max(8, (y2 - y1) / 2);
      d = `M ${x1} ${y1} C ${x1} ${y1 + m}, ${x2} ${y2 - m}, ${x2} ${y2}`;
    } else {
      const right = c.x > a.x;
      const x1 = right ? a.x + a.w : a.x;
      const y1 = a.y + a.h / 2;
      const x2 = right ? c.x : c.x + c.w;
      const y2 = c.y + Math.min(c.h / 2, 18);
      const m = Math.max(20, Math.abs(x2 - x1) / 2) * (right ? 1 : -1);
      d = `M ${x1} ${y1} C ${x1 + m} ${y1}, ${x2 - m} ${y2}, ${x2} ${y2}`;
    }
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', d);
    p.setAttribute('class', `edge edge-${kind}`);
    p.setAttribute('marker-end', `url(#arrow-${kind === 'goto' ? 'goto' : 'next'})`);
    return p;
  });
  svg.replaceChildren(defs, ...paths);
  svg.dataset.edges = String(paths.length);
}

/** Scales the canvas so every stage fits the visible area (never above 100 %). */
export function zoomToFit(b, min = 0.3) {
  b.setZoom(1);
  const wrap = b.canvasWrap.getBoundingClientRect();
  const w = b.canvas.scrollWidth;
  const hgt = b.canvas.scrollHeight;
  const z = Math.min(1, (wrap.width - 8) / w, Math.max(0.3, (wrap.height - 8) / hgt));
  b.setZoom(Math.max(min, Math.floor(z * 100) / 100));
}
