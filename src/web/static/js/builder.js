// /builder/:name (and /builder?new): the visual editor. This file holds the state and the edits;
// the canvas, drag and drop, toolbox, side panel, pickers, history, messages and dialogs are
// modules of their own (builder-*.js). Every edit is validated by the API (debounced); Save is
// refused while the definition is invalid.
import { api, ApiError, enc, get } from './api.js';
import { confirmDialog, h, humanize, message, replace } from './dom.js';
import { branchSlots, placeIssues, slugify, uniqueId, walkSteps } from './definition.js';
import { defaultsFor } from './schema-form.js';
import { drawConnectors, renderCanvas, zoomToFit } from './builder-canvas.js';
import { attachCanvasDnd } from './builder-dnd.js';
import { renderToolbox } from './builder-toolbox.js';
import { applyFormIssues, buildPanel, renderProblems, renderSettings, renderVersions, renderWorkflowPanel, showTab } from './builder-panel.js';
import { History } from './builder-history.js';
import { loadCatalogs, suggester, unknownReferences } from './builder-pickers.js';
import { issueLine } from './builder-messages.js';
import { describeStep } from './builder-look.js';
import { runDialog, stepMenu } from './builder-dialogs.js';
import { leaveTo, setGuard } from './guard.js';

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
  if (principal.designer) loadCatalogs(name).then((c) => builder.useCatalogs(c));
}

const json = (v) => JSON.stringify(v);

class Builder {
  constructor(main, o) {
    Object.assign(this, o);
    this.main = main;
    this.uids = new WeakMap();
    this.nextUid = 0;
    this.selected = null;
    this.target = null;
    this.issues = { errors: [], warnings: [] };
    this.serverWarnings = [];
    this.validity = 'unknown';
    this.validateSeq = 0;
    this.validateTimer = undefined;
    this.forms = [];
    this.zoom = 1;
    this.catalogs = null;
    this.suggest = suggester(this);
    // a new workflow shows no problems before the user has done anything
    this.touched = Boolean(this.savedName);
    this.savedJson = json(this.def);
    this.history = new History(this.savedJson);
  }

  uid(obj) {
    if (!this.uids.has(obj)) this.uids.set(obj, `u${++this.nextUid}`);
    return this.uids.get(obj);
  }

  get dirty() { return !this.readOnly && json(this.def) !== this.savedJson; }

  // ---------------------------------------------------------------- layout

  start() {
    const ro = this.readOnly;
    this.titleEl = h('h1', { id: 'builder-title' });
    this.versionEl = h('span', { class: 'version-info', id: 'version-info' });
    this.validityEl = h('button', { type: 'button', class: 'validity', id: 'validity', aria: { live: 'polite' }, onclick: () => this.openWorkflowTab() });
    this.dirtyEl = h('span', { class: 'dirty', id: 'dirty' });
    this.undoBtn = ro ? null : h('button', { type: 'button', id: 'undo', aria: { keyshortcuts: 'Control+Z' }, title: 'Undo (Ctrl+Z)', onclick: () => this.undo() }, '↶ Undo');
    this.redoBtn = ro ? null : h('button', { type: 'button', id: 'redo', aria: { keyshortcuts: 'Control+Shift+Z' }, title: 'Redo (Ctrl+Shift+Z)', onclick: () => this.redo() }, '↷ Redo');
    this.runBtn = this.savedName && !this.viewingOld ? h('button', { type: 'button', id: 'run-open', onclick: () => this.openRun() }, '▶ Run') : null;
    this.saveBtn = ro ? null : h('button', { type: 'button', id: 'save', class: 'primary', onclick: () => this.save() }, 'Save');
    this.saveStatus = h('div', { id: 'save-status', class: 'save-status', aria: { live: 'polite' } });
    this.canvas = h('div', { class: 'canvas', id: 'canvas' });
    this.canvasWrap = h('section', { class: 'canvas-wrap', aria: { label: 'Stages' } }, this.canvas);
    this.toolboxEl = ro ? null : h('aside', { class: 'toolbox', id: 'toolbox', aria: { labelledby: 'toolbox-h' } });
    this.zoomEl = h('span', { class: 'zoom-level', id: 'zoom-level' }, '100%');
    const zoomTools = h('div', { class: 'zoom-tools', role: 'group', aria: { label: 'Zoom' } },
      h('button', { type: 'button', class: 'icon', aria: { label: 'Zoom out' }, onclick: () => this.setZoom(this.zoom - 0.1) }, '−'),
      this.zoomEl,
      h('button', { type: 'button', class: 'icon', aria: { label: 'Zoom in' }, onclick: () => this.setZoom(this.zoom + 0.1) }, '+'),
      h('button', { type: 'button', id: 'zoom-fit', onclick: () => zoomToFit(this) }, 'Fit'));

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
      h('div', { class: 'page-head builder-head' },
        h('div', { class: 'page-title' }, this.titleEl, this.versionEl, this.dirtyEl),
        h('div', { class: 'head-actions' }, this.validityEl, zoomTools, this.undoBtn, this.redoBtn,
          h('button', { type: 'button', id: 'open-workflow', onclick: () => this.openWorkflowTab() }, 'Workflow settings'),
          this.runBtn, this.saveBtn)),
      this.saveStatus,
      banner,
      h('div', { class: 'builder-body' }, this.toolboxEl, this.canvasWrap, buildPanel(this))));

    attachCanvasDnd(this);
    document.addEventListener('keydown', (e) => this.globalKey(e));
    this.resizeObserver = new ResizeObserver(() => drawConnectors(this));
    this.resizeObserver.observe(this.canvas);
    setGuard(() => (this.dirty ? `The workflow ${this.def.name || '(new)'} has unsaved changes.` : ''));

    renderWorkflowPanel(this);
    this.renderHead();
    renderToolbox(this);
    this.renderCanvas();
    renderSettings(this);
    this.renderProblems();
    showTab(this, this.savedName ? 'step' : 'workflow');
    // a workflow wider than the canvas starts zoomed out so every stage shows
    requestAnimationFrame(() => { if (this.canvas.scrollWidth > this.canvasWrap.clientWidth + 4) zoomToFit(this, 0.7); });
    this.validateNow();
  }

  renderHead() {
    this.titleEl.textContent = this.savedName ? `Workflow ${this.savedName}` : 'New workflow';
    this.versionEl.textContent = this.version
      ? this.viewingOld ? `version ${this.version} (latest is ${this.latest})` : `version ${this.version}${this.from ? ` (latest is ${this.latest})` : ''}`
      : 'not saved yet';
    this.dirtyEl.textContent = this.dirty ? 'Unsaved changes' : '';
    if (this.saveBtn) this.saveBtn.textContent = this.renaming() ? 'Save as new workflow' : 'Save';
    if (this.undoBtn) { this.undoBtn.disabled = !this.history.canUndo(); this.redoBtn.disabled = !this.history.canRedo(); }
    if (this.runBtn) {
      this.runBtn.disabled = this.dirty;
      this.runBtn.title = this.dirty ? 'Save first: a run uses the saved version' : `Start a run of version ${this.version}`;
    }
  }

  renaming() { return Boolean(this.savedName && this.def.name && this.def.name !== this.savedName); }

  renderCanvas() { renderCanvas(this); }
  renderSettings() { renderSettings(this); }
  renderProblems() { renderProblems(this); }
  showTab(name) { showTab(this, name); }

  openWorkflowTab() {
    this.showTab('workflow');
    this.openSheet();
    this.wfEl.querySelector('input')?.focus();
  }

  openSheet() { this.panelEl.classList.add('open'); }
  closeSheet() {
    this.panelEl.classList.remove('open');
    if (this.selected) this.refocus(`${this.uid(this.selected)}:select`);
  }

  setZoom(z) {
    this.zoom = Math.min(1.5, Math.max(0.3, Math.round(z * 100) / 100));
    this.canvas.style.zoom = String(this.zoom);
    this.zoomEl.textContent = `${Math.round(this.zoom * 100)}%`;
    drawConnectors(this);
  }

  useCatalogs(c) {
    this.catalogs = c;
    renderWorkflowPanel(this);
    renderSettings(this);
    this.applyIssues();
    this.renderProblems();
  }

  // ---------------------------------------------------------------- targets

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
    // the selected card's own list, right after it
    const sel = this.selected && this.locate(this.selected);
    if (sel) {
      const owner = sel.parent ? `${sel.slot.label} of ${sel.parent.step.id}` : `stage “${sel.stage.name}”`;
      const key = sel.parent ? `${this.uid(sel.parent.step)}:${sel.slot.key}` : `${this.uid(sel.stage)}:stage`;
      return { label: `${owner}, after ${this.selected.id}`, list: () => sel.list, after: this.selected, key };
    }
    const stage = stages[stages.length - 1];
    if (!stage) return null;
    return { label: `stage “${stage.name}”`, list: () => (Array.isArray(stage.steps) ? stage.steps : (stage.steps = [])), key: `${this.uid(stage)}:stage` };
  }

  setTarget(target) {
    this.target = target;
    renderToolbox(this);
    this.renderCanvas();
    this.toolboxEl?.querySelector('button[data-type]:not([disabled])')?.focus();
  }

  renderToolboxLabel() {
    const el = this.toolboxEl?.querySelector('#toolbox-target strong');
    const t = this.resolveTarget();
    if (el && t) el.textContent = t.label;
  }

  refocus(fk) {
    const el = this.main.querySelector(`[data-fk="${CSS.escape(fk)}"]`);
    if (el && !el.disabled) return el.focus();
    const owner = fk.split(':')[0];
    const fallback = this.main.querySelector(`[data-fk="${CSS.escape(`${owner}:select`)}"]`) ?? this.main.querySelector('[data-fk="add-stage"]');
    fallback?.focus();
  }

  // ---------------------------------------------------------------- edits

  allIds() { return new Set(walkSteps(this.def, this.types).map((e) => e.step.id)); }
  locate(step) { return walkSteps(this.def, this.types).find((e) => e.step === step) ?? null; }
  stepByUid(u) { return walkSteps(this.def, this.types).find((e) => this.uids.get(e.step) === u)?.step ?? null; }

  /** Is `inner` the step `outer` or inside one of its branches? */
  isWithin(inner, outer) {
    for (let e = this.locate(inner); e; e = e.parent) if (e.step === outer) return true;
    return false;
  }

  stepAt(path) {
    const hit = walkSteps(this.def, this.types).sort((a, b) => b.path.length - a.path.length)
      .find((e) => path === e.path || path.startsWith(`${e.path}.`) || path.startsWith(`${e.path}[`));
    return hit?.step ?? null;
  }

  /** Something changed that only needs re-validation. */
  changed({ group = false } = {}) {
    this.touched = true;
    this.history.record(json(this.def), { group });
    this.renderHead();
    this.scheduleValidate();
    if (group) clearTimeout(this.headTimer), (this.headTimer = setTimeout(() => this.renderHead(), 700));
  }

  /** Steps or stages were added, removed or moved. */
  structureChanged() {
    for (const e of walkSteps(this.def, this.types)) for (const slot of branchSlots(e.step, this.types.get(e.step.type))) slot.prune();
    if (this.selected && !this.locate(this.selected)) {
      this.selected = null;
      renderSettings(this);
    }
    renderToolbox(this);
    this.renderCanvas();
    this.changed();
  }

  /** Undo/redo: the definition is replaced; the selection follows the step id. */
  restore(text) {
    if (text === null) return;
    const selectedId = this.selected?.id;
    this.def = JSON.parse(text);
    this.target = null;
    this.selected = selectedId ? walkSteps(this.def, this.types).find((e) => e.step.id === selectedId)?.step ?? null : null;
    renderWorkflowPanel(this);
    renderToolbox(this);
    this.renderCanvas();
    renderSettings(this);
    this.renderHead();
    this.scheduleValidate();
  }

  undo() { this.restore(this.history.undo()); }
  redo() { this.restore(this.history.redo()); }

  globalKey(e) {
    if (this.readOnly || !(e.ctrlKey || e.metaKey) || e.key.toLowerCase() !== 'z') return;
    // inside a text field the browser's own undo is what people expect
    if (e.target instanceof HTMLElement && e.target.matches('input[type="text"], textarea, input:not([type])')) return;
    e.preventDefault();
    if (e.shiftKey) this.redo(); else this.undo();
  }

  /** Shortcuts on a focused card: Alt+arrows move, Ctrl+D duplicates, Delete removes. */
  cardKey(e, step) {
    const loc = this.locate(step);
    if (!loc) return;
    const key = e.key;
    let handled = true;
    if (e.altKey && key === 'ArrowUp') this.moveWithin(step, -1);
    else if (e.altKey && key === 'ArrowDown') this.moveWithin(step, 1);
    else if (e.altKey && (key === 'ArrowLeft' || key === 'ArrowRight')) {
      if (loc.depth === 0) this.moveToStage(step, key === 'ArrowLeft' ? -1 : 1);
      else if (key === 'ArrowLeft') this.moveOut(step);
    } else if ((e.ctrlKey || e.metaKey) && key.toLowerCase() === 'd') this.duplicate(step);
    else if (key === 'Delete') this.removeStep(step);
    else handled = false;
    if (handled) {
      e.preventDefault();
      this.refocus(`${this.uid(this.selected && this.locate(this.selected) ? this.selected : step)}:select`);
    }
  }

  openStepMenu(step) { stepMenu(this, step); }
  openRun() { if (!this.dirty && this.savedName) runDialog(this); }

  addStage() {
    const stages = this.def.stages;
    const names = new Set(stages.map((s) => s.name));
    let n = stages.length + 1;
    while (names.has(`Stage ${n}`)) n++;
    const name = `Stage ${n}`;
    const stage = { id: uniqueId(slugify(name), new Set(stages.map((s) => s.id))), name, steps: [] };
    stages.push(stage);
    this.selected = null;
    renderSettings(this);
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

  newId(type, used = this.allIds()) {
    const base = slugify(humanize(type), 'step');
    let n = 1;
    while (used.has(`${base}-${n}`)) n++;
    return `${base}-${n}`;
  }

  /** Adds a step of `type`: at `container`/`index` (a drop), else where the toolbox says. */
  addStep(type, at = null) {
    const info = this.types.get(type);
    if (!info) return;
    let list;
    let index;
    if (at) {
      const c = this.containers.get(at.container);
      if (!c) return;
      list = c.list();
      index = at.index;
    } else {
      const target = this.resolveTarget();
      if (!target) return;
      list = target.list();
      index = target.after ? list.indexOf(target.after) + 1 : list.length;
    }
    const step = { id: this.newId(type), type, ...defaultsFor(info.schema) };
    list.splice(index, 0, step);
    this.selected = step;
    this.target = null;
    this.structureChanged();
    renderSettings(this);
    this.showTab('step');
    this.openSheet();
    const first = this.settingsEl.querySelector('.params-form :is(input, select, textarea):not([disabled])') ?? this.settingsEl.querySelector('input');
    first?.focus();
  }

  /** Moves the step with uid `u` into container `key` at `index` (drop or "Move to…"). */
  moveStepTo(u, key, index) {
    const step = this.stepByUid(u);
    const c = this.containers.get(key);
    if (!step || !c || (c.owner && this.isWithin(c.owner, step))) return;
    const loc = this.locate(step);
    const list = c.list();
    let at = Math.max(0, Math.min(index, list.length));
    if (loc.list === list && loc.index < at) at--;
    loc.list.splice(loc.index, 1);
    list.splice(at, 0, step);
    this.selected = step;
    this.structureChanged();
    renderSettings(this);
    this.refocus(`${u}:select`);
  }

  duplicate(step) {
    const loc = this.locate(step);
    if (!loc) return;
    const copy = JSON.parse(JSON.stringify(step));
    const used = this.allIds();
    // the copy and every step inside it get fresh ids
    for (const e of walkSteps({ stages: [{ steps: [copy] }] }, this.types)) {
      e.step.id = uniqueId(`${e.step.id || this.newId(e.step.type, used)}-copy`, used);
      used.add(e.step.id);
    }
    loc.list.splice(loc.index + 1, 0, copy);
    this.selected = copy;
    this.structureChanged();
    renderSettings(this);
    this.refocus(`${this.uid(copy)}:select`);
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
    renderSettings(this);
    if (neighbour) this.refocus(`${this.uid(neighbour)}:select`);
    else this.refocus('add-stage');
  }

  select(step) {
    this.selected = step;
    this.target = null; // the toolbox now adds next to this card
    this.renderCanvas();
    renderSettings(this);
    renderToolbox(this);
    this.showTab('step');
    this.openSheet();
  }

  /** Updates a card's texts after a settings edit without rebuilding the canvas. */
  updateCard(step) {
    const card = this.cardEls?.get(step);
    if (!card) return;
    const info = this.types.get(step.type);
    card.dataset.stepId = step.id ?? '';
    card.querySelector('.card-title').textContent = step.name || step.id || '(no id)';
    card.querySelector('.card-summary').textContent = describeStep(step, info);
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
    // a "not saved" banner goes once what it complained about is fixed
    if (res.valid && this.saveStatus.querySelector('.msg-error[data-kind="invalid"]')) replace(this.saveStatus);
    this.renderValidity();
    this.applyIssues();
    this.renderProblems();
    return { valid: res.valid, snapshot };
  }

  /** What is shown: nothing on an untouched new workflow; server warnings plus unknown references. */
  shownIssues() {
    if (!this.touched) return { errors: [], warnings: [] };
    const errors = this.issues.errors.filter((e) => this.touchedName || this.savedName || this.attempted || e.path !== '$.name');
    const server = [...this.issues.warnings, ...this.serverWarnings];
    const seen = new Set(server.map((w) => w.path));
    const client = unknownReferences(this).filter((w) => !seen.has(w.path) && ![...seen].some((p) => w.path.startsWith(`${p}[`)));
    const warnings = [...new Map([...server, ...client].map((w) => [`${w.path}\u0000${w.message}`, w])).values()];
    return { errors, warnings };
  }

  renderValidity() {
    const el = this.validityEl;
    el.className = `validity validity-${this.touched ? this.validity : 'unknown'}`;
    const { errors, warnings } = this.shownIssues();
    const n = errors.length;
    const w = warnings.length;
    el.textContent = !this.touched ? 'New workflow' : {
      pending: 'Checking…',
      valid: `Valid${w ? ` · ${w} warning${w === 1 ? '' : 's'}` : ''}`,
      invalid: n ? `${n} problem${n === 1 ? '' : 's'}` : 'Incomplete',
      error: `Could not check: ${this.validityError ?? ''}`,
      unknown: '',
    }[this.validity];
    el.dataset.state = this.touched ? this.validity : 'untouched';
  }

  applyIssues() {
    if (!this.cardEls) return;
    const shown = this.shownIssues();
    const errors = placeIssues(this.def, this.types, shown.errors);
    const warnings = placeIssues(this.def, this.types, shown.warnings);
    for (const [step, card] of this.cardEls) {
      const errs = errors.byStep.get(step) ?? [];
      const warns = warnings.byStep.get(step) ?? [];
      card.classList.toggle('has-error', errs.length > 0);
      card.classList.toggle('has-warning', warns.length > 0);
      replace(card.querySelector('.card-issues'),
        errs.map((e) => h('li', { class: 'issue-error' }, h('span', { class: 'visually-hidden' }, 'Error: '), issueLine(e))),
        warns.map((e) => h('li', { class: 'issue-warning' }, h('span', { class: 'visually-hidden' }, 'Warning: '), issueLine(e))));
    }
    for (const [stage, el] of this.stageEls) {
      const errs = errors.byStage.get(stage) ?? [];
      el.classList.toggle('has-error', errs.length > 0);
      replace(el.querySelector('.stage-issues'), errs.map((e) => h('li', { class: 'issue-error' }, issueLine(e))));
    }
    applyFormIssues(this, errors, warnings);
    this.renderValidity();
  }

  // ---------------------------------------------------------------- save

  async save() {
    if (this.readOnly || this.saving) return;
    this.attempted = true;
    this.touched = true;
    if (this.renaming()) {
      const ok = await confirmDialog({
        title: 'Save as new workflow?',
        message: `The name changed from “${this.savedName}” to “${this.def.name}”. Saving creates a new workflow “${this.def.name}”; “${this.savedName}” stays as it is.`,
        confirmLabel: 'Save as new workflow',
      });
      if (!ok) return;
    }
    this.saving = true;
    this.saveBtn.disabled = true;
    replace(this.saveStatus, message('info', 'Checking…'));
    try {
      const { valid, snapshot } = await this.validateNow();
      if (valid !== true) {
        const n = this.shownIssues().errors.length;
        replace(this.saveStatus, message('error', valid === false
          ? `Not saved: the workflow has ${n} problem${n === 1 ? '' : 's'} (see the marked steps and the Problems list).`
          : 'Not saved: the workflow could not be checked. Try again.'));
        this.saveStatus.querySelector('.msg').dataset.kind = 'invalid';
        return;
      }
      const res = await api('PUT', `/api/workflows/${enc(snapshot.name)}`, snapshot);
      const { version, warnings } = res.body;
      const renamed = this.savedName !== snapshot.name;
      this.savedName = snapshot.name;
      this.version = version;
      this.latest = version;
      this.from = null;
      this.savedJson = json(snapshot);
      this.serverWarnings = (warnings ?? []).filter((w) => w && typeof w === 'object' && typeof w.path === 'string');
      history.replaceState(null, '', `/builder/${enc(snapshot.name)}`);
      document.title = 'Builder · stageflow';
      replace(this.saveStatus, message('ok', res.status === 201 ? `Saved as version ${version}.` : `No changes since version ${version}.`,
        warnings?.length ? ` ${warnings.length} warning${warnings.length === 1 ? '' : 's'}.` : '', ' ',
        h('a', { href: `/runs?workflow=${enc(snapshot.name)}` }, 'Runs of this workflow')));
      this.saveStatus.querySelector('.msg').dataset.version = String(version);
      this.versions = (await get(`/api/workflows/${enc(snapshot.name)}/versions`)).items;
      if (renamed) {
        // the Run button belongs to a saved workflow
        if (!this.runBtn) {
          this.runBtn = h('button', { type: 'button', id: 'run-open', onclick: () => this.openRun() }, '▶ Run');
          this.saveBtn.before(this.runBtn);
        }
        renderWorkflowPanel(this);
      }
      renderVersions(this);
      this.renderHead();
      this.applyIssues();
      this.renderProblems();
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

export { leaveTo };
