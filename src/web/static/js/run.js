// /runs/:id: one run drawn over its workflow version, its history, model and saved entry, and
// the operations the caller may try. Polls every second while the run is moving.
import { api, ApiError, enc, get } from './api.js';
import { confirmDialog, formatDuration, formatTime, h, humanize, message, pretty, replace } from './dom.js';
import { branchSlots, walkSteps } from './definition.js';
import { describeEvent, relativeTime } from './words.js';
import { mountDiagnosis } from './diagnosis-panel.js';

const MOVING = new Set(['running', 'waiting']);
const POLL_MS = 1000;

const STATUS_WORD = { completed: 'Completed', failed: 'Failed', cancelled: 'Cancelled', draft: 'Draft, waiting to be submitted again' };

const STATE_LABEL = {
  done: 'done',
  current: 'running',
  waiting: 'waiting',
  failed: 'failed',
  skipped: 'skipped branch',
  cancelled: 'cancelled here',
  draft: 'draft',
  pending: 'not run yet',
  unreached: 'not reached',
};

export async function mount(main, { params, principal }) {
  const id = params[0];
  let run;
  try {
    run = await get(`/api/runs/${enc(id)}`);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 400)) {
      main.append(
        h('h1', { id: 'run-not-found' }, 'Run not found'),
        h('p', {}, `There is no run “${id}”, or you may not see it. `, h('a', { href: '/runs' }, 'All runs')),
      );
      return;
    }
    throw err;
  }
  const page = new RunPage(main, run);
  await page.start();
  page.extraEl.append(mountDiagnosis(h('section', {}), id, { principal }));
}

class RunPage {
  constructor(main, run) {
    this.main = main;
    this.run = run;
    this.history = [];
    this.def = null;
    this.types = new Map();
    this.lastKey = '';
    this.entryVersion = -1;
    this.timer = undefined;
  }

  async start() {
    const run = this.run;
    this.headEl = h('div', { class: 'run-head' });
    this.actionsEl = h('section', { class: 'run-actions', id: 'run-actions', aria: { labelledby: 'actions-h' } });
    this.actionStatus = h('div', { id: 'action-status', aria: { live: 'polite' } });
    this.diagramEl = h('section', { class: 'run-diagram', id: 'run-diagram', aria: { labelledby: 'diagram-h' } });
    this.timelineEl = h('section', { class: 'timeline-wrap', id: 'timeline', aria: { labelledby: 'timeline-h' } });
    this.modelEl = h('section', { class: 'model', id: 'run-model', aria: { labelledby: 'model-h' } });
    this.entryEl = h('section', { class: 'entry', id: 'run-entry', aria: { labelledby: 'entry-h' } });
    this.liveEl = h('p', { class: 'live muted', id: 'live', aria: { live: 'off' } });
    this.summaryEl = h('div', { id: 'run-summary', aria: { live: 'polite' } });
    // Other modules add sections here (after the status summary), e.g. a diagnosis.
    this.extraEl = h('div', { id: 'run-extra', class: 'run-extra' });
    this.main.append(
      h('div', { class: 'page-head' }, h('h1', {}, 'Run ', h('code', { class: 'run-id' }, run.id)), this.liveEl),
      this.summaryEl,
      this.extraEl,
      this.headEl,
      this.actionsEl,
      this.actionStatus,
      this.diagramEl,
      h('div', { class: 'run-columns' }, this.timelineEl, h('div', { class: 'run-data' }, this.modelEl, this.entryEl)),
    );
    try {
      const [types, wf] = await Promise.all([get('/api/step-types'), get(`/api/workflows/${enc(run.workflow)}?version=${run.version}`)]);
      this.types = new Map(types.map((t) => [t.type, t]));
      this.def = wf.definition;
    } catch (err) {
      this.defError = err.message;
    }
    await this.refresh(true);
  }

  async refresh(first = false) {
    clearTimeout(this.timer);
    try {
      // History only grows: ask for the events after the ones already shown.
      const [run, hist] = await Promise.all([
        get(`/api/runs/${enc(this.run.id)}`),
        get(`/api/runs/${enc(this.run.id)}/history?from=${this.history.length}`),
      ]);
      this.run = run;
      if (hist.items.length) this.history = this.history.concat(hist.items);
      this.fetchError = null;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        replace(this.main, h('h1', { id: 'run-not-found' }, 'Run not found'), h('p', {}, 'This run is gone or you may no longer see it.'));
        return;
      }
      if (err instanceof ApiError && err.status === 401) return; // signed out: the sign-in form took over
      this.fetchError = err.message;
    }
    const run = this.run;
    const key = `${run.seq}|${run.status}|${run.updatedAt}|${this.history.length}`;
    if (first || key !== this.lastKey) {
      const statusChanged = !this.lastKey || this.lastKey.split('|')[1] !== run.status;
      this.lastKey = key;
      this.renderHead();
      if (statusChanged || first) this.renderActions();
      this.renderDiagram();
      this.renderTimeline();
      this.renderModel();
      if (run.entry.version !== this.entryVersion) {
        this.entryVersion = run.entry.version;
        this.renderEntry();
      }
    }
    const moving = MOVING.has(run.status);
    this.liveEl.textContent = this.fetchError
      ? `Update failed (${this.fetchError}); retrying…`
      : moving
        ? 'Live: updates every second'
        : `${STATUS_WORD[run.status] ?? run.status}: no more updates`;
    if (moving || this.fetchError) this.timer = setTimeout(() => this.refresh(), POLL_MS);
  }

  stepLabel(id) {
    const e = this.def ? walkSteps(this.def, this.types).find((x) => x.step.id === id) : null;
    return e ? `${e.step.name ?? e.step.id} (stage ${e.stage?.name ?? e.stageIndex + 1})` : id;
  }

  renderSummary() {
    const r = this.run;
    const where = r.error?.stepId ?? r.step?.id;
    const text = {
      failed: [
        'Failed',
        `${r.error?.message ?? 'the run stopped with an error'}${where ? ` — at step ${this.stepLabel(where)}${r.error?.attempt ? `, attempt ${r.error.attempt}` : ''}` : ''}. Retry it below once the cause is fixed.`,
      ],
      completed: ['Completed', r.outcome ? `Outcome: ${r.outcome}.` : 'Every stage ran.'],
      cancelled: ['Cancelled', where ? `Stopped at step ${this.stepLabel(where)}.` : 'Stopped.'],
      waiting: [
        'Waiting',
        r.step ? `At step ${this.stepLabel(r.step.id)}${r.confirmation ? ': an answer is needed on Tasks' : ''}.` : 'Waiting.',
      ],
      running: ['Running', r.step ? `At step ${this.stepLabel(r.step.id)}.` : 'Starting.'],
      draft: ['Draft', 'Sent back for changes: edit the model and submit it again below.'],
    }[r.status] ?? [r.status, ''];
    replace(
      this.summaryEl,
      h(
        'div',
        { class: ['run-summary', `summary-${r.status}`], id: 'run-summary-box', role: r.status === 'failed' ? 'alert' : undefined },
        h('strong', { class: 'summary-word' }, text[0]),
        ' ',
        h('span', {}, text[1]),
      ),
    );
  }

  renderHead() {
    this.renderSummary();
    const r = this.run;
    const rows = [
      ['Status', h('span', { class: `badge status-${r.status}`, id: 'run-status', dataset: { status: r.status } }, r.status)],
      ['Workflow', [h('a', { href: `/builder/${enc(r.workflow)}?version=${r.version}` }, r.workflow), ` version ${r.version}`]],
      r.stage ? ['Stage', `${r.stage.name} (${r.stage.index + 1} of ${r.stage.count})`] : null,
      r.step ? ['Step', `${r.step.name} (${humanize(r.step.type)})`] : null,
      r.outcome ? ['Outcome', r.outcome] : null,
      r.error
        ? [
            'Error',
            h(
              'span',
              { class: 'error-text', id: 'run-error' },
              `${r.error.message}${r.error.stepId ? ` (step ${r.error.stepId}${r.error.attempt ? `, attempt ${r.error.attempt}` : ''})` : ''}`,
            ),
          ]
        : null,
      ['Entry', `${r.entry.id} · version ${r.entry.version}`],
      r.startedBy ? ['Started by', r.startedBy] : null,
      ['Started', formatTime(r.createdAt)],
      ['Updated', formatTime(r.updatedAt)],
    ].filter(Boolean);
    replace(
      this.headEl,
      h(
        'dl',
        { class: 'facts' },
        rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
      ),
    );
  }

  // ---------------------------------------------------------------- actions

  renderActions() {
    const r = this.run;
    const parts = [h('h2', { id: 'actions-h' }, 'Actions')];
    const buttons = [];
    if (['running', 'waiting', 'draft', 'failed'].includes(r.status)) {
      buttons.push(
        h(
          'button',
          {
            type: 'button',
            id: 'cancel-run',
            class: 'danger',
            onclick: async () => {
              const ok = await confirmDialog({
                title: 'Cancel this run?',
                message: 'Nothing of it runs after this; it cannot be resumed.',
                confirmLabel: 'Cancel run',
                danger: true,
              });
              if (ok) await this.act('cancel', {}, 'Run cancelled.');
            },
          },
          'Cancel run',
        ),
      );
    }
    if (r.status === 'waiting' && r.step?.type === 'getUserConfirmation') {
      parts.push(h('p', {}, 'Waiting for a confirmation. Those it is routed to answer it on ', h('a', { href: '/tasks' }, 'Tasks'), '.'));
    }
    if (buttons.length) parts.push(h('div', { class: 'button-row' }, buttons));
    if (r.status === 'failed') parts.push(this.retryForm());
    if (r.status === 'draft') parts.push(this.submitForm());
    if (!buttons.length && r.status !== 'failed' && r.status !== 'draft')
      parts.push(h('p', { class: 'muted' }, `Nothing to do: the run is ${r.status}.`));
    replace(this.actionsEl, ...parts);
  }

  stepOptions() {
    if (!this.def) return [];
    return walkSteps(this.def, this.types).map((e) => ({
      id: e.step.id,
      label: `${this.def.stages[e.stageIndex]?.name ?? ''} › ${'  '.repeat(e.depth)}${e.step.name ?? e.step.id} (${humanize(e.step.type)})`,
    }));
  }

  retryForm() {
    const r = this.run;
    const failedAt = r.error?.stepId ?? r.step?.id;
    const from = h(
      'select',
      { id: 'retry-from' },
      this.stepOptions().map((o) => h('option', { value: o.id, selected: o.id === failedAt }, o.label)),
    );
    const patch = h('textarea', {
      id: 'retry-patch',
      rows: 3,
      spellcheck: 'false',
      placeholder: '{"field": "fixed value"}',
      aria: { describedby: 'retry-patch-hint' },
    });
    return h(
      'form',
      {
        class: 'action-form',
        id: 'retry-form',
        onsubmit: async (e) => {
          e.preventDefault();
          const body = {};
          if (from.value) body.fromStepId = from.value;
          const p = this.parsePatch(patch);
          if (p === false) return;
          if (p) body.modelPatch = p;
          await this.act('retry', body, 'Retried.');
        },
      },
      h('h3', {}, 'Retry or redrive'),
      h('div', { class: 'field' }, h('label', { for: 'retry-from' }, 'From step'), from),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'retry-patch' }, 'Model patch (JSON merge patch, optional)'),
        patch,
        h('p', { class: 'hint', id: 'retry-patch-hint' }, 'Applied to the model before the step runs again; null removes a field.'),
      ),
      h('button', { type: 'submit', class: 'primary', id: 'retry-run' }, 'Retry'),
    );
  }

  submitForm() {
    const patch = h('textarea', { id: 'submit-patch', rows: 3, spellcheck: 'false', aria: { describedby: 'submit-patch-hint' } });
    return h(
      'form',
      {
        class: 'action-form',
        id: 'submit-form',
        onsubmit: async (e) => {
          e.preventDefault();
          const p = this.parsePatch(patch);
          if (p === false) return;
          await this.act('submit', p ? { modelPatch: p } : {}, 'Submitted; the run starts again from the first stage.');
        },
      },
      h('h3', {}, 'Submit the draft'),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'submit-patch' }, 'Model patch (JSON merge patch, optional)'),
        patch,
        h('p', { class: 'hint', id: 'submit-patch-hint' }, 'Edit the model before it runs again.'),
      ),
      h('button', { type: 'submit', class: 'primary', id: 'submit-run' }, 'Submit draft'),
    );
  }

  /** undefined: empty; false: invalid (reported); else the object. */
  parsePatch(textarea) {
    const text = textarea.value.trim();
    if (!text) return undefined;
    try {
      const v = JSON.parse(text);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('it must be a JSON object');
      return v;
    } catch (err) {
      replace(this.actionStatus, message('error', `The model patch is not valid: ${err.message}`));
      textarea.focus();
      return false;
    }
  }

  async act(what, body, done) {
    replace(this.actionStatus, message('info', 'Working…'));
    try {
      await api('POST', `/api/runs/${enc(this.run.id)}/${what}`, body);
      replace(this.actionStatus, message('ok', done));
    } catch (err) {
      const why =
        err instanceof ApiError
          ? err.status === 403
            ? `You may not do that: ${err.message}`
            : err.status === 409
              ? `Not possible now: ${err.message}`
              : err.describe()
          : err.message;
      replace(this.actionStatus, message('error', why));
    }
    this.lastKey = '';
    await this.refresh();
  }

  // ---------------------------------------------------------------- diagram

  stepStates() {
    const entries = this.def ? walkSteps(this.def, this.types) : [];
    const order = new Map(entries.map((e, i) => [e.step.id, i]));
    const completed = new Map();
    const started = new Map();
    for (const ev of this.history) {
      if (ev.type === 'run.submitted') completed.clear();
      if (ev.type === 'run.retried' && ev.stepId && order.has(ev.stepId)) {
        const from = order.get(ev.stepId);
        for (const id of [...completed.keys()]) if ((order.get(id) ?? -1) >= from) completed.delete(id);
      }
      if (ev.type === 'step.completed' && ev.stepId) completed.set(ev.stepId, ev);
      // attempts are the distinct attempt numbers since the last retry/submit (a redelivered job starts the same attempt again)
      if (ev.type === 'run.retried' || ev.type === 'run.submitted') started.clear();
      // a step that ended in the commit that ran it has no step.started: its step.completed carries the attempt
      if ((ev.type === 'step.started' || ev.type === 'step.completed') && ev.stepId)
        started.set(ev.stepId, Math.max(started.get(ev.stepId) ?? 0, ev.attempt ?? 1));
    }
    const r = this.run;
    const state = new Map();
    const own = (e) => {
      if (r.step?.id === e.step.id && r.status !== 'completed') {
        return { running: 'current', waiting: 'waiting', failed: 'failed', cancelled: 'cancelled', draft: 'draft' }[r.status] ?? 'current';
      }
      if (completed.has(e.step.id)) return 'done';
      return null;
    };
    for (const e of entries) state.set(e, own(e));
    const active = (e) => ['done', 'current', 'waiting', 'failed', 'cancelled'].includes(state.get(e));
    // a branch is taken when something in it happened, or (if) when the condition said so
    const slotActive = new Map();
    for (const e of entries) {
      if (!e.parent || !active(e)) continue;
      for (let p = e; p.parent; p = p.parent) slotActive.set(`${p.parent.step.id}|${p.slot.key}`, true);
    }
    const terminal = !MOVING.has(r.status);
    for (const e of entries) {
      if (state.get(e)) continue;
      let skipped = false;
      for (let p = e; p.parent; p = p.parent) {
        const owner = p.parent;
        const ownerDone = state.get(owner) === 'done' || state.get(owner) === 'skipped';
        if (!ownerDone) continue;
        if (state.get(owner) === 'skipped') {
          skipped = true;
          break;
        }
        const matched = completed.get(owner.step.id)?.detail?.matched;
        const taken =
          slotActive.get(`${owner.step.id}|${p.slot.key}`) || (typeof matched === 'boolean' && p.slot.key === (matched ? 'then' : 'else'));
        const someTaken = [...slotActive.keys()].some((k) => k.startsWith(`${owner.step.id}|`)) || typeof matched === 'boolean';
        if (!taken && someTaken) {
          skipped = true;
          break;
        }
      }
      state.set(e, skipped ? 'skipped' : terminal ? 'unreached' : 'pending');
    }
    return { state, started, completed };
  }

  renderDiagram() {
    const parts = [h('h2', { id: 'diagram-h' }, 'Workflow')];
    if (!this.def) {
      parts.push(
        message('error', `The definition of version ${this.run.version} could not be read${this.defError ? `: ${this.defError}` : ''}.`),
      );
      return replace(this.diagramEl, ...parts);
    }
    const { state, started, completed } = this.stepStates();
    const byStep = new Map([...state].map(([e, s]) => [e.step, { entry: e, s }]));
    const card = (step) => {
      const { s } = byStep.get(step) ?? { s: 'pending' };
      const attempts = started.get(step.id) ?? 0;
      const done = completed.get(step.id);
      const info = this.types.get(step.type);
      const slots = branchSlots(step, info);
      return h(
        'li',
        { class: 'step-item' },
        h(
          'div',
          { class: ['card', 'run-card', `state-${s}`], dataset: { stepId: step.id, state: s } },
          h('span', { class: 'card-title' }, step.name ?? step.id),
          h('span', { class: 'card-type' }, humanize(step.type)),
          h('span', { class: `state-tag tag-${s}` }, STATE_LABEL[s] ?? s),
          attempts > 1 ? h('span', { class: 'muted small-text' }, ` · ${attempts} attempts`) : null,
          done?.durationMs !== undefined ? h('span', { class: 'muted small-text' }, ` · ${formatDuration(done.durationMs)}`) : null,
        ),
        slots.length
          ? h(
              'div',
              { class: 'branches' },
              slots.map((slot) =>
                h(
                  'div',
                  { class: 'branch', role: 'group', aria: { label: `${slot.label} branch of ${step.id}` } },
                  h('div', { class: 'branch-head' }, slot.label),
                  h('ol', { class: 'steps' }, slot.list().length ? slot.list().map(card) : h('li', { class: 'empty muted' }, 'No steps')),
                ),
              ),
            )
          : null,
      );
    };
    const stages = this.def.stages.map((stage, i) =>
      h(
        'section',
        {
          class: ['stage', this.run.stage?.id === stage.id && 'current-stage'],
          aria: { label: `Stage ${stage.name}` },
          dataset: { stageId: stage.id },
        },
        h(
          'header',
          { class: 'stage-head' },
          h(
            'div',
            { class: 'stage-title' },
            h('h3', { class: 'stage-name-ro' }, stage.name),
            h('span', { class: 'stage-id' }, `stage ${i + 1}`),
          ),
        ),
        h('ol', { class: 'steps' }, (stage.steps ?? []).length ? stage.steps.map(card) : h('li', { class: 'empty muted' }, 'No steps')),
      ),
    );
    parts.push(h('div', { class: 'canvas-wrap' }, h('div', { class: 'canvas' }, stages)));
    replace(this.diagramEl, ...parts);
  }

  // ---------------------------------------------------------------- history, model, entry

  renderTimeline() {
    const items = this.history;
    const name = (id) => {
      const e = this.def ? walkSteps(this.def, this.types).find((x) => x.step.id === id) : null;
      return e?.step.name ?? id;
    };
    replace(
      this.timelineEl,
      h('h2', { id: 'timeline-h' }, 'History'),
      items.length
        ? h(
            'ol',
            { class: 'timeline' },
            items.map((ev) => {
              const detail = ev.detail && typeof ev.detail === 'object' && Object.keys(ev.detail).length ? ev.detail : null;
              return h(
                'li',
                { class: ['event', `ev-${ev.type.replace(/\./g, '-')}`], dataset: { type: ev.type } },
                h(
                  'div',
                  { class: 'event-head' },
                  h('time', { datetime: ev.at, title: formatTime(ev.at) }, new Date(ev.at).toLocaleTimeString()),
                  h('span', { class: 'event-text' }, describeEvent(ev, name)),
                ),
                detail || ev.seq !== undefined
                  ? h(
                      'details',
                      { class: 'event-detail' },
                      h('summary', {}, 'Details'),
                      h(
                        'p',
                        { class: 'muted small-text' },
                        `${ev.type}${ev.stepId ? ` · step ${ev.stepId}` : ''}${ev.attempt ? ` · attempt ${ev.attempt}` : ''}${typeof ev.durationMs === 'number' ? ` · ${formatDuration(ev.durationMs)}` : ''} · ${relativeTime(ev.at)}`,
                      ),
                      detail ? h('pre', { class: 'json' }, pretty(detail)) : null,
                    )
                  : null,
              );
            }),
          )
        : h('p', { class: 'muted' }, 'No events yet.'),
    );
  }

  renderModel() {
    replace(
      this.modelEl,
      h('h2', { id: 'model-h' }, 'Model'),
      h('pre', { class: 'json', id: 'run-model-json', tabindex: '0' }, pretty(this.run.model)),
    );
  }

  async renderEntry() {
    const r = this.run;
    const head = h('h2', { id: 'entry-h' }, 'Saved entry');
    if (!r.entry.version) {
      replace(this.entryEl, head, h('p', { class: 'muted' }, `Entry ${r.entry.id} is not saved yet (an updateModel step saves it).`));
      return;
    }
    try {
      const entry = await get(`/api/entries/${enc(r.entry.id)}`);
      replace(
        this.entryEl,
        head,
        h('p', {}, `Entry ${entry.id}, version ${entry.version}, saved ${formatTime(entry.updatedAt)}`),
        h('pre', { class: 'json', id: 'run-entry-json', tabindex: '0' }, pretty(entry.model)),
      );
    } catch (err) {
      replace(
        this.entryEl,
        head,
        err instanceof ApiError && err.status === 404
          ? h('p', { class: 'muted' }, `Entry ${r.entry.id} is not visible to you.`)
          : message('error', `Could not read the entry: ${err.message}`),
      );
    }
  }
}
