// /builder/:name (and /builder?new): the visual editor. Stages are columns, steps are cards,
// condition steps show their branches nested under them. Every edit is validated by the API
// (debounced); Save is refused while the definition is invalid.
import { mountSimulate } from './simulate-panel.js';
import { api, ApiError, enc, get } from './api.js';
import { confirmDialog, formatTime, h, humanize, message, replace } from './dom.js';
import { branchSlots, placeIssues, slugify, summarize, uniqueId, walkSteps } from './definition.js';
import { defaultsFor, schemaForm, showErrors } from './schema-form.js';

const GROUPS = ['Notifications', 'Integrations', 'Common', 'Conditions'];
const VALIDATE_DELAY_MS = 300;

export async function mount(main, { params, principal, query }) {
  const name = params[0] ?? null;
  const asked = Number(query.get('version') ?? query.get('from') ?? 0) || undefined;
  const typeList = await get('/api/step-types');
  let wf = null;
  let versions = [];
  if (name) {
    try {
      wf = await get(`/api/workflows/${enc(name)}${asked ? `?version=${asked}` : ''}`);
      versions = (await get(`/api/workflows/${enc(name)}/versions`)).items;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        main.append(h('h1', {}, 'Workflow not found'),
          h('p', {}, `There is no workflow named “${name}”${asked ? ` with version ${asked}` : ''}, or you may not see it. `, h('a', { href: '/builder' }, 'All workflows')));
        return;
      }
      throw err;
    }
  }
  const viewingOld = Boolean(wf && query.has('version') && wf.version !== wf.latest);
  const builder = new Builder(main, {
    types: new Map(typeList.map((t) => [t.type, t])),
    typeList,
    def: wf ? wf.definition : { name: '', restrictAccess: false, stages: [] },
    savedName: wf ? name : null,
    version: wf?.version ?? null,
    latest: wf?.latest ?? null,
    versions,
    readOnly: !principal.designer || viewingOld,
    viewingOld,
    from: query.has('from') && wf ? wf.version : null,
    designer: principal.designer,
  });
  builder.start();
  if (wf) main.querySelector('.builder')?.append(mountSimulate(h('section', {}), { workflow: name, version: () => builder.version }, { principal }));
}

class Builder {
  constructor(main, o) {
    Object.assign(this, o);
    this.main = main;
    this.uids = new WeakMap();
    this.nextUid = 0;
    this.selected = null;
    this.target = null;
    this.issues = { errors: [], warnings: [] };
    this.validity = 'unknown';
    this.validateSeq = 0;
    this.validateTimer = undefined;
    this.dirty = false;
    this.forms = [];
  }

  uid(obj) {
    if (!this.uids.has(obj)) this.uids.set(obj, `u${++this.nextUid}`);
    return this.uids.get(obj);
  }

  // ---------------------------------------------------------------- layout

  start() {
    const ro = this.readOnly;
    this.titleEl = h('h1', { id: 'builder-title' });
    this.versionEl = h('span', { class: 'version-info', id: 'version-info' });
    this.validityEl = h('span', { class: 'validity', id: 'validity', role: 'status' });
    this.dirtyEl = h('span', { class: 'dirty muted', id: 'dirty' });
    this.saveBtn = ro ? null : h('button', { type: 'button', id: 'save', class: 'primary', onclick: () => this.save() }, 'Save');
    this.saveStatus = h('div', { id: 'save-status', class: 'save-status', aria: { live: 'polite' } });
    this.historyEl = h('div', { class: 'history' });
    this.settingsEl = h('aside', { class: 'step-settings', id: 'step-settings', aria: { labelledby: 'step-settings-h' } });
    this.canvas = h('div', { class: 'canvas', id: 'canvas' });
    this.problemsEl = h('section', { class: 'problems', id: 'problems', aria: { labelledby: 'problems-h' } });
    this.toolboxEl = ro ? null : h('aside', { class: 'toolbox', id: 'toolbox', aria: { labelledby: 'toolbox-h' } });

    const banner = this.viewingOld
      ? h('div', { class: 'banner', id: 'readonly-banner' },
        h('p', {}, `You are viewing version ${this.version} of ${this.latest}, read-only. `),
        h('p', {}, h('a', { href: `/builder/${enc(this.def.name)}` }, 'Open the latest version'),
          this.designer ? [' · ', h('a', { href: `/builder/${enc(this.def.name)}?from=${this.version}` }, `Edit starting from version ${this.version}`)] : null))
      : !this.designer
        ? h('div', { class: 'banner' }, h('p', {}, 'Read-only: saving workflows needs the designer or admin role.'))
        : this.from
          ? h('div', { class: 'banner' }, h('p', {}, `Editing from version ${this.from}; saving creates version ${this.latest + 1}.`))
          : null;

    replace(this.main, h('div', { class: ['builder', ro && 'read-only'] },
      h('div', { class: 'page-head' },
        h('div', { class: 'page-title' }, this.titleEl, this.versionEl),
        h('div', { class: 'head-actions' }, this.validityEl, this.dirtyEl, this.saveBtn)),
      this.saveStatus,
      banner,
      this.workflowSettings(),
      this.historyEl,
      h('div', { class: 'builder-body' },
        this.toolboxEl,
        h('section', { class: 'canvas-wrap', aria: { label: 'Stages' } }, this.canvas),
        this.settingsEl),
      this.problemsEl));

    this.renderHead();
    this.renderHistory();
    this.renderToolbox();
    this.renderCanvas();
    this.renderSettings();
    this.renderProblems();
    this.validateNow();
  }

  renderHead() {
    this.titleEl.textContent = this.savedName ? `Workflow ${this.savedName}` : 'New workflow';
    this.versionEl.textContent = this.version
      ? this.viewingOld ? `version ${this.version} (latest is ${this.latest})` : `version ${this.version}${this.from ? ` (latest is ${this.latest})` : ''}`
      : 'not saved yet';
    this.dirtyEl.textContent = this.dirty ? 'Unsaved changes' : '';
  }

  renderHistory() {
    if (!this.versions.length) return replace(this.historyEl);
    const select = h('select', { id: 'version-select' },
      [...this.versions].reverse().map((v) => h('option', { value: String(v.version), selected: v.version === this.version },
        `v${v.version} — ${formatTime(v.savedAt)}${v.version === this.latest ? ' (latest)' : ''}`)));
    replace(this.historyEl,
      h('label', { for: 'version-select' }, 'Version history'),
      select,
      h('button', { type: 'button', id: 'open-version', onclick: () => {
        const v = Number(select.value);
        location.assign(v === this.latest ? `/builder/${enc(this.savedName)}` : `/builder/${enc(this.savedName)}?version=${v}`);
      } }, 'Open version'));
  }

  // ---------------------------------------------------------------- workflow settings

  workflowSettings() {
    const ro = this.readOnly;
    const def = this.def;
    const field = (id, label, input, hint, path) => h('div', { class: 'field', dataset: { path } },
      h('label', { for: id }, label), input, hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null, h('p', { class: 'field-error', id: `${id}-err`, hidden: true }));
    const described = (id, hint) => ({ describedby: [hint ? `${id}-hint` : null, `${id}-err`].filter(Boolean).join(' ') });

    const nameHint = 'letters, digits, _ and -; used in URLs';
    const nameInput = h('input', { id: 'wf-name', type: 'text', value: def.name ?? '', disabled: ro, spellcheck: 'false', autocomplete: 'off', dataset: { path: '.name' }, aria: { ...described('wf-name', nameHint), required: 'true' },
      oninput: (e) => { def.name = e.target.value.trim(); this.changed(); } });
    const titleInput = h('input', { id: 'wf-title', type: 'text', value: def.title ?? '', disabled: ro, dataset: { path: '.title' }, aria: described('wf-title'),
      oninput: (e) => { if (e.target.value.trim()) def.title = e.target.value; else delete def.title; this.changed(); } });

    const accessBox = h('div', { class: 'access-lists', id: 'wf-access', hidden: !def.restrictAccess });
    const radio = (value, label) => h('label', { class: 'radio' },
      h('input', { type: 'radio', name: 'wf-restrict', id: `wf-restrict-${value ? 'yes' : 'no'}`, value: value ? 'yes' : 'no', checked: Boolean(def.restrictAccess) === value, disabled: ro,
        onchange: () => { def.restrictAccess = value; accessBox.hidden = !value; this.changed(); } }), ` ${label}`);
    const restrict = h('fieldset', { class: 'field restrict', dataset: { path: '.restrictAccess' } },
      h('legend', {}, 'Restrict access'), radio(false, 'No'), radio(true, 'Yes'),
      h('p', { class: 'hint' }, 'Yes creates a security context: only the users and roles named below (and admins) see and use the workflow’s runs.'),
      h('p', { class: 'field-error', id: 'wf-restrict-err', hidden: true }));

    const listHint = 'user ids or role:<name>, comma-separated';
    for (const action of ['read', 'start', 'confirm', 'operate']) {
      const id = `wf-access-${action}`;
      accessBox.append(field(id, `${humanize(action)} access`, h('input', { id, type: 'text', disabled: ro, spellcheck: 'false', dataset: { path: `.access.${action}` }, aria: described(id, listHint),
        value: (def.access?.[action] ?? []).join(', '),
        oninput: (e) => {
          const list = e.target.value.split(',').map((s) => s.trim()).filter(Boolean);
          def.access ??= {};
          if (list.length) def.access[action] = list;
          else delete def.access[action];
          if (!Object.keys(def.access).length) delete def.access;
          this.changed();
        } }), listHint, `.access.${action}`));
    }
    this.wfSettingsEl = h('section', { class: 'wf-settings', aria: { label: 'Workflow settings' } },
      h('div', { class: 'wf-row' },
        field('wf-name', 'Workflow name', nameInput, nameHint, '.name'),
        field('wf-title', 'Title', titleInput, null, '.title'),
        restrict),
      accessBox);
    return this.wfSettingsEl;
  }

  // ---------------------------------------------------------------- toolbox

  resolveTarget() {
    const t = this.target;
    const stages = this.def.stages;
    if (t?.kind === 'stage' && stages.includes(t.stage)) {
      return { label: `stage “${t.stage.name}”`, list: () => (Array.isArray(t.stage.steps) ? t.stage.steps : (t.stage.steps = [])), key: `${this.uid(t.stage)}:stage` };
    }
    if (t?.kind === 'branch' && this.locate(t.step)) {
      const slot = branchSlots(t.step, this.types.get(t.step.type)).find((s) => s.key === t.key);
      if (slot) return { label: `${slot.label} of ${t.step.id}`, list: slot.ensure, key: `${this.uid(t.step)}:${slot.key}` };
    }
    const sel = this.selected && this.locate(this.selected);
    const stage = sel ? stages[sel.stageIndex] : stages[stages.length - 1];
    if (!stage) return null;
    return { label: `stage “${stage.name}”`, list: () => (Array.isArray(stage.steps) ? stage.steps : (stage.steps = [])), key: `${this.uid(stage)}:stage` };
  }

  setTarget(target) {
    this.target = target;
    this.renderToolbox();
    this.renderCanvas();
    this.toolboxEl?.querySelector('button[data-type]:not([disabled])')?.focus();
  }

  renderToolbox() {
    if (!this.toolboxEl) return;
    const target = this.resolveTarget();
    const groups = GROUPS.map((group) => {
      const items = this.typeList.filter((t) => t.group === group);
      if (!items.length) return null;
      const hId = `tb-${group.toLowerCase()}`;
      return h('div', { class: 'tool-group', role: 'group', aria: { labelledby: hId } },
        h('h3', { id: hId }, group),
        h('ul', {}, items.map((t) => h('li', {},
          h('button', { type: 'button', class: 'tool', dataset: { type: t.type }, disabled: !target, title: t.description,
            aria: { describedby: `tb-desc-${t.type}` }, onclick: () => this.addStep(t.type) }, humanize(t.type)),
          h('span', { class: 'visually-hidden', id: `tb-desc-${t.type}` }, t.description)))));
    });
    const extra = [...new Set(this.typeList.map((t) => t.group))].filter((g) => !GROUPS.includes(g));
    replace(this.toolboxEl,
      h('h2', { id: 'toolbox-h' }, 'Toolbox'),
      h('p', { class: 'toolbox-target', id: 'toolbox-target', aria: { live: 'polite' } },
        target ? ['Adds to ', h('strong', {}, target.label)] : 'Add a stage first (“+”).'),
      groups,
      extra.map((g) => h('div', { class: 'tool-group' }, h('h3', {}, g), h('ul', {}, this.typeList.filter((t) => t.group === g).map((t) =>
        h('li', {}, h('button', { type: 'button', class: 'tool', dataset: { type: t.type }, disabled: !target, onclick: () => this.addStep(t.type) }, humanize(t.type))))))));
  }

  // ---------------------------------------------------------------- canvas

  renderCanvas() {
    const active = this.main.contains(document.activeElement) ? document.activeElement?.dataset?.fk : undefined;
    const target = this.resolveTarget();
    this.cardEls = new Map();
    this.stageEls = new Map();
    const stages = this.def.stages.map((stage, i) => this.stageEl(stage, i, target));
    const add = this.readOnly ? null : h('button', { type: 'button', class: 'add-stage', id: 'add-stage', title: 'Add stage', aria: { label: 'Add stage' }, dataset: { fk: 'add-stage' }, onclick: () => this.addStage() }, '+');
    replace(this.canvas, ...stages, add, !stages.length ? h('p', { class: 'muted empty-canvas' }, this.readOnly ? 'No stages.' : 'No stages yet: “+” adds one.') : null);
    this.applyIssues();
    if (active) this.refocus(active);
  }

  refocus(fk) {
    const el = this.main.querySelector(`[data-fk="${CSS.escape(fk)}"]`);
    if (el && !el.disabled) return el.focus();
    const owner = fk.split(':')[0];
    const fallback = this.main.querySelector(`[data-fk="${CSS.escape(`${owner}:select`)}"]`) ?? this.main.querySelector('[data-fk="add-stage"]');
    fallback?.focus();
  }

  stageEl(stage, i, target) {
    const ro = this.readOnly;
    const sid = this.uid(stage);
    const count = this.def.stages.length;
    const label = stage.name || stage.id;
    const steps = Array.isArray(stage.steps) ? stage.steps : [];
    const isTarget = target?.key === `${sid}:stage`;
    const el = h('section', { class: ['stage', isTarget && !ro && 'target'], dataset: { stageId: stage.id ?? '' }, aria: { label: `Stage ${label}` } },
      h('header', { class: 'stage-head' },
        h('div', { class: 'stage-title' },
          ro ? h('h2', { class: 'stage-name-ro' }, label)
            : h('input', { type: 'text', class: 'stage-name', value: stage.name ?? '', aria: { label: `Name of stage ${i + 1}` }, dataset: { fk: `${sid}:name` },
              oninput: (e) => { stage.name = e.target.value; this.changed(); this.renderToolboxLabel(); },
              onchange: () => this.renderCanvas() }),
          h('span', { class: 'stage-id' }, 'id ', h('code', {}, stage.id ?? ''))),
        ro ? null : h('div', { class: 'stage-tools' },
          h('button', { type: 'button', class: 'icon', title: 'Move stage left', disabled: i === 0, dataset: { fk: `${sid}:left` }, aria: { label: `Move stage ${label} left` }, onclick: () => this.moveStage(i, -1) }, '◀'),
          h('button', { type: 'button', class: 'icon', title: 'Move stage right', disabled: i === count - 1, dataset: { fk: `${sid}:right` }, aria: { label: `Move stage ${label} right` }, onclick: () => this.moveStage(i, 1) }, '▶'),
          h('button', { type: 'button', class: 'icon danger', title: 'Delete stage', dataset: { fk: `${sid}:delete` }, aria: { label: `Delete stage ${label}` }, onclick: () => this.deleteStage(stage) }, 'X'))),
      h('ul', { class: 'issues stage-issues' }),
      h('ol', { class: 'steps', aria: { label: `Steps of ${label}` } },
        steps.length ? steps.map((step, j) => this.stepEl(step, { list: steps, index: j, stageIndex: i, depth: 0 }, target)) : h('li', { class: 'empty muted' }, 'No steps')),
      ro ? null : h('button', { type: 'button', class: ['add-here', isTarget && 'pressed'], dataset: { fk: `${sid}:add` }, aria: { label: `Add step to stage ${label}`, pressed: String(isTarget) },
        onclick: () => this.setTarget({ kind: 'stage', stage }) }, '+ Add step'));
    this.stageEls.set(stage, el);
    return el;
  }

  stepEl(step, loc, target) {
    const ro = this.readOnly;
    const id = this.uid(step);
    const info = this.types.get(step.type);
    const selected = this.selected === step;
    const label = step.id || '(no id)';
    const stages = this.def.stages.length;
    const tools = ro ? null : h('div', { class: 'card-tools' },
      h('button', { type: 'button', class: 'icon', title: 'Move up', disabled: loc.index === 0, dataset: { fk: `${id}:up` }, aria: { label: `Move ${label} up` }, onclick: () => this.moveWithin(step, -1) }, '↑'),
      h('button', { type: 'button', class: 'icon', title: 'Move down', disabled: loc.index === loc.list.length - 1, dataset: { fk: `${id}:down` }, aria: { label: `Move ${label} down` }, onclick: () => this.moveWithin(step, 1) }, '↓'),
      loc.depth === 0
        ? [h('button', { type: 'button', class: 'icon', title: 'Move to previous stage', disabled: loc.stageIndex === 0, dataset: { fk: `${id}:prev` }, aria: { label: `Move ${label} to previous stage` }, onclick: () => this.moveToStage(step, -1) }, '←'),
          h('button', { type: 'button', class: 'icon', title: 'Move to next stage', disabled: loc.stageIndex === stages - 1, dataset: { fk: `${id}:next` }, aria: { label: `Move ${label} to next stage` }, onclick: () => this.moveToStage(step, 1) }, '→')]
        : h('button', { type: 'button', class: 'icon', title: 'Move out of the branch', dataset: { fk: `${id}:out` }, aria: { label: `Move ${label} out of the branch` }, onclick: () => this.moveOut(step) }, '⇤'),
      h('button', { type: 'button', class: 'icon danger', title: 'Remove step', dataset: { fk: `${id}:remove` }, aria: { label: `Remove ${label}` }, onclick: () => this.removeStep(step) }, '✕'));
    const card = h('div', { class: ['card', selected && 'selected'], dataset: { uid: id, stepId: step.id ?? '' } },
      h('button', { type: 'button', class: 'card-main', dataset: { fk: `${id}:select` }, aria: { pressed: String(selected) }, onclick: () => this.select(step) },
        h('span', { class: 'card-title' }, step.name || label),
        h('span', { class: 'card-type' }, info ? humanize(step.type) : `unknown type ${step.type}`),
        h('span', { class: 'card-summary' }, summarize(step, info))),
      tools,
      h('ul', { class: 'issues card-issues' }));
    this.cardEls.set(step, card);
    const branches = branchSlots(step, info).map((slot) => {
      const list = slot.list();
      const isTarget = target?.key === `${id}:${slot.key}`;
      return h('div', { class: ['branch', isTarget && !ro && 'target'], role: 'group', aria: { label: `${slot.label} branch of ${label}` } },
        h('div', { class: 'branch-head' }, slot.label),
        h('ol', { class: 'steps' }, list.length
          ? list.map((s, k) => this.stepEl(s, { list, index: k, stageIndex: loc.stageIndex, depth: loc.depth + 1 }, target))
          : h('li', { class: 'empty muted' }, 'No steps')),
        ro ? null : h('button', { type: 'button', class: ['add-here', 'small', isTarget && 'pressed'], dataset: { fk: `${id}:add:${slot.key}` }, aria: { label: `Add step to ${slot.label} of ${label}`, pressed: String(isTarget) },
          onclick: () => this.setTarget({ kind: 'branch', step, key: slot.key }) }, `+ Add step to ${slot.label}`));
    });
    return h('li', { class: 'step-item' }, card, branches.length ? h('div', { class: 'branches' }, branches) : null);
  }

  /** Updates a card's texts after a settings edit without rebuilding the canvas. */
  updateCard(step) {
    const card = this.cardEls?.get(step);
    if (!card) return;
    const info = this.types.get(step.type);
    card.dataset.stepId = step.id ?? '';
    card.querySelector('.card-title').textContent = step.name || step.id || '(no id)';
    card.querySelector('.card-summary').textContent = summarize(step, info);
  }

  renderToolboxLabel() {
    const el = this.toolboxEl?.querySelector('#toolbox-target strong');
    const t = this.resolveTarget();
    if (el && t) el.textContent = t.label;
  }

  // ---------------------------------------------------------------- edits

  allIds() {
    return new Set(walkSteps(this.def, this.types).map((e) => e.step.id));
  }

  locate(step) {
    return walkSteps(this.def, this.types).find((e) => e.step === step) ?? null;
  }

  /** Something changed that only needs re-validation. */
  changed() {
    this.dirty = true;
    this.renderHead();
    this.scheduleValidate();
  }

  /** Steps or stages were added, removed or moved. */
  structureChanged() {
    for (const e of walkSteps(this.def, this.types)) for (const slot of branchSlots(e.step, this.types.get(e.step.type))) slot.prune();
    if (this.selected && !this.locate(this.selected)) {
      this.selected = null;
      this.renderSettings();
    }
    this.renderToolbox();
    this.renderCanvas();
    this.changed();
  }

  addStage() {
    const stages = this.def.stages;
    const names = new Set(stages.map((s) => s.name));
    let n = stages.length + 1;
    while (names.has(`Stage ${n}`)) n++;
    const name = `Stage ${n}`;
    const stage = { id: uniqueId(slugify(name), new Set(stages.map((s) => s.id))), name, steps: [] };
    stages.push(stage);
    this.target = { kind: 'stage', stage };
    this.structureChanged();
    const input = this.stageEls.get(stage)?.querySelector('.stage-name');
    input?.focus();
    input?.select();
  }

  async deleteStage(stage) {
    const steps = Array.isArray(stage.steps) ? stage.steps.length : 0;
    if (steps > 0) {
      const ok = await confirmDialog({
        title: 'Delete stage?',
        message: `Stage “${stage.name}” has ${steps} step${steps === 1 ? '' : 's'}. Deleting the stage deletes ${steps === 1 ? 'it' : 'them'} too.`,
        confirmLabel: 'Delete stage',
        danger: true,
      });
      if (!ok) return this.stageEls.get(stage)?.querySelector('button.danger')?.focus();
    }
    const i = this.def.stages.indexOf(stage);
    if (i < 0) return;
    this.def.stages.splice(i, 1);
    if (this.target?.stage === stage) this.target = null;
    this.structureChanged();
    document.getElementById('add-stage')?.focus();
  }

  moveStage(i, delta) {
    const stages = this.def.stages;
    const j = i + delta;
    if (j < 0 || j >= stages.length) return;
    const [stage] = stages.splice(i, 1);
    stages.splice(j, 0, stage);
    this.structureChanged();
  }

  addStep(type) {
    const target = this.resolveTarget();
    const info = this.types.get(type);
    if (!target || !info) return;
    const used = this.allIds();
    const base = slugify(humanize(type), 'step');
    let n = 1;
    while (used.has(`${base}-${n}`)) n++;
    const step = { id: `${base}-${n}`, type, ...defaultsFor(info.schema) };
    target.list().push(step);
    this.selected = step;
    this.structureChanged();
    this.renderSettings();
    // straight into its settings: the first parameter, else its id
    const first = this.settingsEl.querySelector('.params-form :is(input, select, textarea):not([disabled])') ?? this.settingsEl.querySelector('input');
    first?.focus();
  }

  moveWithin(step, delta) {
    const loc = this.locate(step);
    if (!loc) return;
    const j = loc.index + delta;
    if (j < 0 || j >= loc.list.length) return;
    loc.list.splice(loc.index, 1);
    loc.list.splice(j, 0, step);
    this.structureChanged();
  }

  moveToStage(step, delta) {
    const loc = this.locate(step);
    if (!loc || loc.depth !== 0) return;
    const to = this.def.stages[loc.stageIndex + delta];
    if (!to) return;
    loc.list.splice(loc.index, 1);
    to.steps = Array.isArray(to.steps) ? to.steps : [];
    // leftwards it lands at the bottom of the previous stage, rightwards at the top of the next
    if (delta < 0) to.steps.push(step);
    else to.steps.unshift(step);
    this.structureChanged();
  }

  moveOut(step) {
    const loc = this.locate(step);
    if (!loc?.parent) return;
    loc.list.splice(loc.index, 1);
    const owner = loc.parent;
    owner.list.splice(owner.list.indexOf(owner.step) + 1, 0, step);
    this.structureChanged();
  }

  async removeStep(step) {
    const loc = this.locate(step);
    if (!loc) return;
    const nested = walkSteps({ stages: [{ steps: [step] }] }, this.types).length - 1;
    if (nested > 0) {
      const ok = await confirmDialog({ title: 'Remove step?', message: `“${step.id}” holds ${nested} step${nested === 1 ? '' : 's'} in its branches; they go too.`, confirmLabel: 'Remove', danger: true });
      if (!ok) return;
    }
    loc.list.splice(loc.index, 1);
    const neighbour = loc.list[Math.min(loc.index, loc.list.length - 1)];
    if (this.selected && !this.locate(this.selected)) this.selected = null;
    this.structureChanged();
    this.renderSettings();
    if (neighbour) this.refocus(`${this.uid(neighbour)}:select`);
    else this.refocus('add-stage');
  }

  select(step) {
    this.selected = step;
    this.renderCanvas();
    this.renderSettings();
    this.renderToolboxLabel();
  }

  // ---------------------------------------------------------------- settings

  renderSettings() {
    const step = this.selected;
    this.forms = [];
    if (!step) {
      replace(this.settingsEl, h('h2', { id: 'step-settings-h' }, 'Step settings'), h('p', { class: 'muted' }, 'Select a step to see its settings.'));
      return;
    }
    const info = this.types.get(step.type);
    const id = this.uid(step);
    const opts = {
      readOnly: this.readOnly,
      // an edit inside a list of objects (a switch case's value) can rename a branch: redraw the canvas
      onChange: (path) => { if (/\[\d+\]/.test(path ?? '')) this.renderCanvas(); else this.updateCard(step); this.changed(); },
      onStructure: () => this.structureChanged(),
    };
    this.stepIssuesEl = h('ul', { class: 'issues settings-issues' });
    if (!info) {
      replace(this.settingsEl, h('h2', { id: 'step-settings-h' }, 'Step settings'),
        message('error', `Unknown step type “${step.type}”.`), h('pre', { class: 'json' }, JSON.stringify(step, null, 2)));
      return;
    }
    const commonProps = info.common?.properties ?? {};
    const ident = schemaForm({ type: 'object', properties: { id: commonProps.id ?? { type: 'string' }, ...(commonProps.name ? { name: commonProps.name } : {}) }, required: ['id'] }, step,
      { ...opts, idPrefix: `s${id}-c` });
    const params = schemaForm(info.schema, step, { ...opts, idPrefix: `s${id}-p` });
    const advancedProps = Object.fromEntries(Object.entries(commonProps).filter(([k]) => k !== 'id' && k !== 'name'));
    const advanced = Object.keys(advancedProps).length ? schemaForm({ type: 'object', properties: advancedProps }, step, { ...opts, idPrefix: `s${id}-a` }) : null;
    this.forms = [ident, params, advanced].filter(Boolean);
    const hasParams = Object.values(info.schema?.properties ?? {}).some((p) => !p['x-steps']);
    replace(this.settingsEl,
      h('h2', { id: 'step-settings-h' }, 'Step settings'),
      h('p', { class: 'settings-type' }, h('strong', {}, humanize(step.type)), ' — ', info.description),
      this.stepIssuesEl,
      h('form', { class: 'settings-form', onsubmit: (e) => e.preventDefault(), aria: { label: `Settings of ${step.id}` } },
        ident.el,
        h('div', { class: 'params-form' }, hasParams ? params.el : h('p', { class: 'muted' }, 'This step has no parameters.')),
        advanced ? h('details', { class: 'advanced', open: Boolean(step.retry || (step.timeoutMs !== undefined && !info.schema?.properties?.timeoutMs)) },
          h('summary', {}, 'Retry and timeout'), advanced.el) : null));
    this.applyIssues();
  }

  // ---------------------------------------------------------------- validation

  scheduleValidate() {
    this.validateSeq++;
    this.validity = 'pending';
    this.renderValidity();
    clearTimeout(this.validateTimer);
    this.validateTimer = setTimeout(() => this.validateNow(), VALIDATE_DELAY_MS);
  }

  /** Validates the current definition; resolves {valid, snapshot} (valid null when stale or failed). */
  async validateNow() {
    clearTimeout(this.validateTimer);
    const seq = ++this.validateSeq;
    const snapshot = JSON.parse(JSON.stringify(this.def));
    this.validity = 'pending';
    this.renderValidity();
    let res;
    try {
      res = (await api('POST', '/api/workflows/validate', snapshot)).body;
    } catch (err) {
      if (seq !== this.validateSeq) return { valid: null, snapshot };
      this.validity = 'error';
      this.validityError = err.message;
      this.renderValidity();
      return { valid: null, snapshot };
    }
    if (seq !== this.validateSeq) return { valid: null, snapshot };
    this.issues = { errors: res.errors ?? [], warnings: res.warnings ?? [] };
    this.validity = res.valid ? 'valid' : 'invalid';
    this.renderValidity();
    this.applyIssues();
    this.renderProblems();
    return { valid: res.valid, snapshot };
  }

  renderValidity() {
    const el = this.validityEl;
    el.className = `validity validity-${this.validity}`;
    const n = this.issues.errors.length;
    const w = this.issues.warnings.length;
    el.textContent = {
      pending: 'Checking…',
      valid: `Valid${w ? ` · ${w} warning${w === 1 ? '' : 's'}` : ''}`,
      invalid: `${n} problem${n === 1 ? '' : 's'}`,
      error: `Could not check: ${this.validityError ?? ''}`,
      unknown: '',
    }[this.validity];
    el.dataset.state = this.validity;
  }

  applyIssues() {
    if (!this.cardEls) return;
    const errors = placeIssues(this.def, this.types, this.issues.errors);
    const warnings = placeIssues(this.def, this.types, this.issues.warnings);
    for (const [step, card] of this.cardEls) {
      const errs = errors.byStep.get(step) ?? [];
      const warns = warnings.byStep.get(step) ?? [];
      card.classList.toggle('has-error', errs.length > 0);
      card.classList.toggle('has-warning', warns.length > 0);
      replace(card.querySelector('.card-issues'),
        errs.map((e) => h('li', { class: 'issue-error' }, h('span', { class: 'visually-hidden' }, 'Error: '), issueText(e))),
        warns.map((e) => h('li', { class: 'issue-warning' }, h('span', { class: 'visually-hidden' }, 'Warning: '), issueText(e))));
    }
    for (const [stage, el] of this.stageEls) {
      const errs = errors.byStage.get(stage) ?? [];
      el.classList.toggle('has-error', errs.length > 0);
      replace(el.querySelector('.stage-issues'), errs.map((e) => h('li', { class: 'issue-error' }, issueText(e))));
    }
    // workflow-level fields
    if (this.wfSettingsEl) {
      const wfIssues = errors.workflow.map((e) => ({ ...e, rel: e.path.slice(1) }));
      this.workflowLeftovers = showErrors(this.wfSettingsEl, wfIssues);
    }
    // the selected step's form
    if (this.selected && this.forms.length) {
      const mine = errors.byStep.get(this.selected) ?? [];
      const leftovers = this.forms.map((f) => new Set(f.showErrors(mine)));
      const unplaced = mine.filter((e) => leftovers.every((set) => set.has(e)));
      replace(this.stepIssuesEl, unplaced.map((e) => h('li', { class: 'issue-error', role: 'alert' }, e.message)),
        (warnings.byStep.get(this.selected) ?? []).map((e) => h('li', { class: 'issue-warning' }, e.message)));
    }
  }

  renderProblems() {
    const { errors, warnings } = this.issues;
    const all = [...errors.map((e) => ({ ...e, kind: 'error' })), ...warnings.map((e) => ({ ...e, kind: 'warning' }))];
    const steps = walkSteps(this.def, this.types).sort((a, b) => b.path.length - a.path.length);
    replace(this.problemsEl,
      h('h2', { id: 'problems-h' }, 'Problems'),
      all.length
        ? h('ul', { class: 'problem-list' }, all.map((p) => {
          const hit = steps.find((e) => p.path === e.path || p.path.startsWith(`${e.path}.`) || p.path.startsWith(`${e.path}[`));
          return h('li', { class: `problem-${p.kind}` },
            h('span', { class: `tag tag-${p.kind}` }, p.kind === 'error' ? 'Error' : 'Warning'), ' ',
            h('code', {}, p.path), ' ', p.message, ' ',
            hit ? h('button', { type: 'button', class: 'link-button', onclick: () => { this.select(hit.step); this.refocus(`${this.uid(hit.step)}:select`); } }, `Show ${hit.step.id ?? 'step'}`) : null);
        }))
        : h('p', { class: 'muted' }, this.validity === 'valid' ? 'None.' : '—'));
  }

  // ---------------------------------------------------------------- save

  async save() {
    if (this.readOnly || this.saving) return;
    this.saving = true;
    this.saveBtn.disabled = true;
    replace(this.saveStatus, message('info', 'Checking…'));
    try {
      const { valid, snapshot } = await this.validateNow();
      if (valid !== true) {
        const n = this.issues.errors.length;
        replace(this.saveStatus, message('error', valid === false
          ? `Not saved: the workflow has ${n} problem${n === 1 ? '' : 's'} (see the marked steps and the list below).`
          : 'Not saved: the workflow could not be checked. Try again.'));
        return;
      }
      const res = await api('PUT', `/api/workflows/${enc(snapshot.name)}`, snapshot);
      const { version, warnings } = res.body;
      const renamed = this.savedName !== snapshot.name;
      this.savedName = snapshot.name;
      this.version = version;
      this.latest = version;
      this.from = null;
      this.dirty = JSON.stringify(snapshot) !== JSON.stringify(this.def);
      history.replaceState(null, '', `/builder/${enc(snapshot.name)}`);
      document.title = `Builder · stageflow`;
      replace(this.saveStatus, message('ok', res.status === 201 ? `Saved as version ${version}.` : `No changes since version ${version}.`,
        warnings?.length ? ` ${warnings.length} warning${warnings.length === 1 ? '' : 's'}.` : '', ' ',
        h('a', { href: `/runs?workflow=${enc(snapshot.name)}` }, 'Runs of this workflow')));
      this.saveStatus.querySelector('.msg').dataset.version = String(version);
      this.versions = (await get(`/api/workflows/${enc(snapshot.name)}/versions`)).items;
      this.renderHistory();
      this.renderHead();
      if (renamed) this.titleEl.focus?.();
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && err.errors.length) {
        this.issues = { errors: err.errors, warnings: [] };
        this.validity = 'invalid';
        this.renderValidity();
        this.applyIssues();
        this.renderProblems();
      }
      replace(this.saveStatus, message('error', `Not saved: ${err instanceof ApiError ? err.describe() : err.message}`));
    } finally {
      this.saving = false;
      this.saveBtn.disabled = false;
    }
  }
}

function issueText(issue) {
  const where = issue.rel && issue.rel !== '' ? `${issue.rel.replace(/^\./, '')}: ` : '';
  return `${where}${issue.message}`;
}
