// /builder/:name (and /builder?new): the visual editor. This file holds the state, layout,
// targets, undo and shortcuts; the edits (builder-edits.js), validation and save
// (builder-checks.js), canvas, drag and drop, toolbox, side panel, pickers, history, messages and
// dialogs are modules of their own (builder-*.js). Every edit is validated by the API
// (debounced); Save is refused while the definition is invalid.
import { ApiError, enc, get } from './api.js';
import { h, keepingFocus, replace } from './dom.js';
import { branchSlots, walkSteps } from './definition.js';
import { drawConnectors, renderCanvas, zoomToFit } from './builder-canvas.js';
import { attachCanvasDnd } from './builder-dnd.js';
import { renderToolbox } from './builder-toolbox.js';
import { buildPanel, renderProblems, renderSettings, renderWorkflowPanel, showTab } from './builder-panel.js';
import { History } from './builder-history.js';
import { loadCatalogs, suggester } from './builder-pickers.js';
import { runDialog, stepMenu } from './builder-dialogs.js';
import { leaveTo, setGuard } from './guard.js';
import { edits } from './builder-edits.js';
import { checks } from './builder-checks.js';
import { mountSimulate } from './simulate-panel.js';

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
        main.append(
          h('h1', {}, 'Workflow not found'),
          h(
            'p',
            {},
            `There is no workflow named “${name}”${asked ? ` with version ${asked}` : ''}, or you may not see it. `,
            h('a', { href: '/builder' }, 'All workflows'),
          ),
        );
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
  if (wf) builder.extraEl?.append(mountSimulate(h('section', {}), { workflow: name, version: () => builder.version }, { principal }));
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

  get dirty() {
    return !this.readOnly && json(this.def) !== this.savedJson;
  }

  // ---------------------------------------------------------------- layout

  start() {
    const ro = this.readOnly;
    this.titleEl = h('h1', { id: 'builder-title' });
    this.versionEl = h('span', { class: 'version-info', id: 'version-info' });
    this.validityEl = h('button', {
      type: 'button',
      class: 'validity',
      id: 'validity',
      aria: { live: 'polite' },
      onclick: () => this.openWorkflowTab(),
    });
    this.dirtyEl = h('span', { class: 'dirty', id: 'dirty' });
    this.undoBtn = ro
      ? null
      : h(
          'button',
          { type: 'button', id: 'undo', aria: { keyshortcuts: 'Control+Z' }, title: 'Undo (Ctrl+Z)', onclick: () => this.undo() },
          '↶ Undo',
        );
    this.redoBtn = ro
      ? null
      : h(
          'button',
          {
            type: 'button',
            id: 'redo',
            aria: { keyshortcuts: 'Control+Shift+Z' },
            title: 'Redo (Ctrl+Shift+Z)',
            onclick: () => this.redo(),
          },
          '↷ Redo',
        );
    this.runBtn =
      this.savedName && !this.viewingOld ? h('button', { type: 'button', id: 'run-open', onclick: () => this.openRun() }, '▶ Run') : null;
    this.saveBtn = ro ? null : h('button', { type: 'button', id: 'save', class: 'primary', onclick: () => this.save() }, 'Save');
    this.saveStatus = h('div', { id: 'save-status', class: 'save-status', aria: { live: 'polite' } });
    this.canvas = h('div', { class: 'canvas', id: 'canvas' });
    this.canvasWrap = h('section', { class: 'canvas-wrap', aria: { label: 'Stages' } }, this.canvas);
    this.toolboxEl = ro ? null : h('aside', { class: 'toolbox', id: 'toolbox', aria: { labelledby: 'toolbox-h' } });
    this.zoomEl = h('span', { class: 'zoom-level', id: 'zoom-level' }, '100%');
    const zoomTools = h(
      'div',
      { class: 'zoom-tools', role: 'group', aria: { label: 'Zoom' } },
      h('button', { type: 'button', class: 'icon', aria: { label: 'Zoom out' }, onclick: () => this.setZoom(this.zoom - 0.1) }, '−'),
      this.zoomEl,
      h('button', { type: 'button', class: 'icon', aria: { label: 'Zoom in' }, onclick: () => this.setZoom(this.zoom + 0.1) }, '+'),
      h('button', { type: 'button', id: 'zoom-fit', onclick: () => zoomToFit(this) }, 'Fit'),
    );

    const banner = this.viewingOld
      ? h(
          'div',
          { class: 'banner', id: 'readonly-banner' },
          h('p', {}, `You are viewing version ${this.version} of ${this.latest}, read-only. `),
          h(
            'p',
            {},
            h('a', { href: `/builder/${enc(this.def.name)}` }, 'Open the latest version'),
            this.designer
              ? [
                  ' · ',
                  h('a', { href: `/builder/${enc(this.def.name)}?from=${this.version}` }, `Edit starting from version ${this.version}`),
                ]
              : null,
          ),
        )
      : !this.designer
        ? h('div', { class: 'banner' }, h('p', {}, 'Read-only: saving workflows needs the designer or admin role.'))
        : this.from
          ? h('div', { class: 'banner' }, h('p', {}, `Editing from version ${this.from}; saving creates version ${this.latest + 1}.`))
          : null;

    replace(
      this.main,
      h(
        'div',
        { class: ['builder', ro && 'read-only'] },
        h(
          'div',
          { class: 'page-head builder-head' },
          h('div', { class: 'page-title' }, this.titleEl, this.versionEl, this.dirtyEl),
          h(
            'div',
            { class: 'head-actions' },
            this.validityEl,
            zoomTools,
            this.undoBtn,
            this.redoBtn,
            h('button', { type: 'button', id: 'open-workflow', onclick: () => this.openWorkflowTab() }, 'Workflow settings'),
            this.runBtn,
            this.saveBtn,
          ),
        ),
        this.saveStatus,
        banner,
        h('div', { class: 'builder-body' }, this.toolboxEl, this.canvasWrap, buildPanel(this)),
      ),
    );

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
    requestAnimationFrame(() => {
      if (this.canvas.scrollWidth > this.canvasWrap.clientWidth + 4) zoomToFit(this, 0.7);
    });
    this.validateNow();
  }

  renderHead() {
    this.titleEl.textContent = this.savedName ? `Workflow ${this.savedName}` : 'New workflow';
    this.versionEl.textContent = this.version
      ? this.viewingOld
        ? `version ${this.version} (latest is ${this.latest})`
        : `version ${this.version}${this.from ? ` (latest is ${this.latest})` : ''}`
      : 'not saved yet';
    this.dirtyEl.textContent = this.dirty ? 'Unsaved changes' : '';
    if (this.saveBtn) this.saveBtn.textContent = this.renaming() ? 'Save as new workflow' : 'Save';
    if (this.undoBtn) {
      this.undoBtn.disabled = !this.history.canUndo();
      this.redoBtn.disabled = !this.history.canRedo();
    }
    if (this.runBtn) {
      this.runBtn.disabled = this.dirty;
      this.runBtn.title = this.dirty ? 'Save first: a run uses the saved version' : `Start a run of version ${this.version}`;
    }
  }

  renaming() {
    return Boolean(this.savedName && this.def.name && this.def.name !== this.savedName);
  }

  renderCanvas() {
    renderCanvas(this);
  }
  renderSettings() {
    renderSettings(this);
  }
  renderProblems() {
    renderProblems(this);
  }
  showTab(name) {
    showTab(this, name);
  }

  openWorkflowTab() {
    this.showTab('workflow');
    this.openSheet();
    this.wfEl.querySelector('input')?.focus();
  }

  openSheet() {
    this.panelEl.classList.add('open');
  }
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
    // they arrive while the designer may already be typing
    keepingFocus(() => {
      renderWorkflowPanel(this);
      renderSettings(this);
    });
    this.applyIssues();
    this.renderProblems();
  }

  // ---------------------------------------------------------------- targets

  resolveTarget() {
    const t = this.target;
    const stages = this.def.stages;
    if (t?.kind === 'stage' && stages.includes(t.stage)) {
      return {
        label: `stage “${t.stage.name}”`,
        list: () => (Array.isArray(t.stage.steps) ? t.stage.steps : (t.stage.steps = [])),
        key: `${this.uid(t.stage)}:stage`,
      };
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
    return {
      label: `stage “${stage.name}”`,
      list: () => (Array.isArray(stage.steps) ? stage.steps : (stage.steps = [])),
      key: `${this.uid(stage)}:stage`,
    };
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
    const fallback =
      this.main.querySelector(`[data-fk="${CSS.escape(`${owner}:select`)}"]`) ?? this.main.querySelector('[data-fk="add-stage"]');
    fallback?.focus();
  }

  // ---------------------------------------------------------------- edits

  allIds() {
    return new Set(walkSteps(this.def, this.types).map((e) => e.step.id));
  }
  locate(step) {
    return walkSteps(this.def, this.types).find((e) => e.step === step) ?? null;
  }
  stepByUid(u) {
    return walkSteps(this.def, this.types).find((e) => this.uids.get(e.step) === u)?.step ?? null;
  }

  /** Is `inner` the step `outer` or inside one of its branches? */
  isWithin(inner, outer) {
    for (let e = this.locate(inner); e; e = e.parent) if (e.step === outer) return true;
    return false;
  }

  stepAt(path) {
    const hit = walkSteps(this.def, this.types)
      .sort((a, b) => b.path.length - a.path.length)
      .find((e) => path === e.path || path.startsWith(`${e.path}.`) || path.startsWith(`${e.path}[`));
    return hit?.step ?? null;
  }

  /** Something changed that only needs re-validation. */
  changed({ group = false } = {}) {
    this.touched = true;
    this.history.record(json(this.def), { group });
    this.renderHead();
    this.scheduleValidate();
    if (group) {
      clearTimeout(this.headTimer);
      this.headTimer = setTimeout(() => this.renderHead(), 700);
    }
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
    this.selected = selectedId ? (walkSteps(this.def, this.types).find((e) => e.step.id === selectedId)?.step ?? null) : null;
    renderWorkflowPanel(this);
    renderToolbox(this);
    this.renderCanvas();
    renderSettings(this);
    this.renderHead();
    this.scheduleValidate();
  }

  undo() {
    this.restore(this.history.undo());
  }
  redo() {
    this.restore(this.history.redo());
  }

  globalKey(e) {
    if (this.readOnly || !(e.ctrlKey || e.metaKey) || e.key.toLowerCase() !== 'z') return;
    // inside a text field the browser's own undo is what people expect
    if (e.target instanceof HTMLElement && e.target.matches('input[type="text"], textarea, input:not([type])')) return;
    e.preventDefault();
    if (e.shiftKey) this.redo();
    else this.undo();
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

  openStepMenu(step) {
    stepMenu(this, step);
  }
  openRun() {
    if (!this.dirty && this.savedName) runDialog(this);
  }
}

Object.assign(Builder.prototype, edits, checks);

export { leaveTo };
