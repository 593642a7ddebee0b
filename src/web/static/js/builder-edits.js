// The builder's edits to the definition (stages and steps added, moved, duplicated, removed, and
// selection), mixed into the Builder (builder.js); each ends in structureChanged() or changed().
import { confirmDialog, humanize } from './dom.js';
import { slugify, uniqueId, walkSteps } from './definition.js';
import { defaultsFor } from './schema-form.js';
import { renderSettings } from './builder-panel.js';
import { renderToolbox } from './builder-toolbox.js';
import { describeStep } from './builder-look.js';

export const edits = {
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
  },

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
  },

  moveStage(i, delta) {
    const stages = this.def.stages;
    const j = i + delta;
    if (j < 0 || j >= stages.length) return;
    const [stage] = stages.splice(i, 1);
    stages.splice(j, 0, stage);
    this.structureChanged();
  },

  newId(type, used = this.allIds()) {
    const base = slugify(humanize(type), 'step');
    let n = 1;
    while (used.has(`${base}-${n}`)) n++;
    return `${base}-${n}`;
  },

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
    const first =
      this.settingsEl.querySelector('.params-form :is(input, select, textarea):not([disabled])') ?? this.settingsEl.querySelector('input');
    first?.focus();
  },

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
  },

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
  },

  moveWithin(step, delta) {
    const loc = this.locate(step);
    if (!loc) return;
    const j = loc.index + delta;
    if (j < 0 || j >= loc.list.length) return;
    loc.list.splice(loc.index, 1);
    loc.list.splice(j, 0, step);
    this.structureChanged();
  },

  moveToStage(step, delta) {
    const loc = this.locate(step);
    if (loc?.depth !== 0) return;
    const to = this.def.stages[loc.stageIndex + delta];
    if (!to) return;
    loc.list.splice(loc.index, 1);
    to.steps = Array.isArray(to.steps) ? to.steps : [];
    if (delta < 0) to.steps.push(step);
    else to.steps.unshift(step);
    this.structureChanged();
  },

  moveOut(step) {
    const loc = this.locate(step);
    if (!loc?.parent) return;
    loc.list.splice(loc.index, 1);
    const owner = loc.parent;
    owner.list.splice(owner.list.indexOf(owner.step) + 1, 0, step);
    this.structureChanged();
  },

  async removeStep(step) {
    const loc = this.locate(step);
    if (!loc) return;
    const nested = walkSteps({ stages: [{ steps: [step] }] }, this.types).length - 1;
    if (nested > 0) {
      const ok = await confirmDialog({
        title: 'Remove step?',
        message: `“${step.id}” holds ${nested} step${nested === 1 ? '' : 's'} in its branches; they go too.`,
        confirmLabel: 'Remove',
        danger: true,
      });
      if (!ok) return;
    }
    loc.list.splice(loc.index, 1);
    const neighbour = loc.list[Math.min(loc.index, loc.list.length - 1)];
    if (this.selected && !this.locate(this.selected)) this.selected = null;
    this.structureChanged();
    renderSettings(this);
    if (neighbour) this.refocus(`${this.uid(neighbour)}:select`);
    else this.refocus('add-stage');
  },

  select(step) {
    this.selected = step;
    this.target = null; // the toolbox now adds next to this card
    this.renderCanvas();
    renderSettings(this);
    renderToolbox(this);
    this.showTab('step');
    this.openSheet();
  },

  /** Updates a card's texts after a settings edit without rebuilding the canvas. */
  updateCard(step) {
    const card = this.cardEls?.get(step);
    if (!card) return;
    const info = this.types.get(step.type);
    card.dataset.stepId = step.id ?? '';
    card.querySelector('.card-title').textContent = step.name || step.id || '(no id)';
    card.querySelector('.card-summary').textContent = describeStep(step, info);
  },
};
