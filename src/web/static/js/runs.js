// /runs: runs the caller may see, newest first, filtered by workflow and status; paged by cursor.
import { api, ApiError, enc, get, withQuery } from './api.js';
import { formatTime, h, message, replace } from './dom.js';
import { relativeTime, shortId } from './words.js';

const STATUSES = ['running', 'waiting', 'completed', 'failed', 'cancelled', 'draft'];
const PAGE = 25;
/** Auto refresh while the tab is visible; a hidden tab asks nothing. */
const REFRESH_MS = 5000;

export async function mount(main, { query }) {
  const filters = { workflow: query.get('workflow') ?? '', status: query.get('status') ?? '' };
  let workflows = [];
  try {
    workflows = (await get('/api/workflows')).items;
  } catch {
    /* the list still works without the workflow names */
  }
  const names = [...new Set([...workflows.map((w) => w.name), filters.workflow].filter(Boolean))].sort();

  const wfSelect = h(
    'select',
    { id: 'filter-workflow', name: 'workflow' },
    h('option', { value: '' }, 'All workflows'),
    names.map((n) => h('option', { value: n, selected: n === filters.workflow }, n)),
  );
  const stSelect = h(
    'select',
    { id: 'filter-status', name: 'status' },
    h('option', { value: '' }, 'Any status'),
    STATUSES.map((s) => h('option', { value: s, selected: s === filters.status }, s)),
  );
  const status = h('div', { id: 'runs-status', aria: { live: 'polite' } });
  const tbody = h('tbody', {});
  const more = h('button', { type: 'button', id: 'load-more', hidden: true }, 'Load more');
  const table = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'list', id: 'run-list' },
      h('caption', { class: 'visually-hidden' }, 'Runs, newest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          COLUMNS.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      tbody,
    ),
  );

  let cursor;
  let loading = 0;
  async function load(reset) {
    const mine = ++loading;
    if (reset) cursor = undefined;
    replace(status, message('info', 'Loading…'));
    try {
      const page = await get(withQuery('/api/runs', { workflow: filters.workflow, status: filters.status, limit: PAGE, cursor }));
      if (mine !== loading) return;
      if (reset) tbody.replaceChildren();
      for (const run of page.items) tbody.append(row(run));
      cursor = page.nextCursor;
      more.hidden = !cursor;
      table.hidden = !tbody.children.length;
      replace(status, tbody.children.length ? null : emptyState(filters, names));
      stamp.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (mine !== loading) return;
      replace(status, message('error', `Could not load runs: ${err.message}`));
    }
  }

  const apply = () => {
    filters.workflow = wfSelect.value;
    filters.status = stSelect.value;
    history.replaceState(null, '', withQuery('/runs', filters));
    load(true);
  };
  wfSelect.addEventListener('change', apply);
  stSelect.addEventListener('change', apply);
  more.addEventListener('click', () => load(false));

  // auto refresh: only the first page (a user who loaded more keeps their list), paused while hidden
  const auto = h('input', { type: 'checkbox', id: 'auto-refresh', checked: true });
  const stamp = h('span', { class: 'muted small-text', id: 'runs-updated' });
  let pollTimer;
  const schedule = () => {
    clearTimeout(pollTimer);
    if (!auto.checked || document.visibilityState === 'hidden' || !main.isConnected) return;
    pollTimer = setTimeout(async () => {
      if (tbody.children.length <= PAGE) await load(true);
      schedule();
    }, REFRESH_MS);
  };
  auto.addEventListener('change', schedule);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && auto.checked) {
      load(true);
    }
    schedule();
  });

  main.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Runs'),
      h(
        'div',
        { class: 'head-actions' },
        stamp,
        h('label', { class: 'check', for: 'auto-refresh' }, auto, 'Auto refresh'),
        h('button', { type: 'button', id: 'refresh-runs', onclick: () => load(true) }, 'Refresh'),
      ),
    ),
    h(
      'form',
      {
        class: 'filters',
        role: 'search',
        onsubmit: (e) => {
          e.preventDefault();
          apply();
        },
      },
      h('div', { class: 'field' }, h('label', { for: 'filter-workflow' }, 'Workflow'), wfSelect),
      h('div', { class: 'field' }, h('label', { for: 'filter-status' }, 'Status'), stSelect),
    ),
    startForm(names, filters.workflow),
    status,
    table,
    more,
  );
  await load(true);
  schedule();
}

const COLUMNS = ['Run', 'Workflow', 'Version', 'Status', 'Stage / step', 'Entry', 'Started by', 'Updated'];

function emptyState(filters, names) {
  if (filters.workflow || filters.status)
    return h('p', { class: 'empty-state', id: 'no-runs' }, 'No runs match these filters. ', h('a', { href: '/runs' }, 'Show all runs'));
  return h(
    'div',
    { class: 'empty-state', id: 'no-runs' },
    h('p', {}, h('strong', {}, 'No runs yet.')),
    h(
      'p',
      { class: 'muted' },
      names.length
        ? 'Start one with “Start a run” above, or from the builder’s Run button.'
        : 'Save a workflow in the builder first, then run it.',
    ),
  );
}

function row(run) {
  const cell = (label, ...content) => h('td', { dataset: { label } }, ...content);
  return h(
    'tr',
    { dataset: { runId: run.id, status: run.status } },
    cell('Run', h('a', { href: `/runs/${enc(run.id)}`, class: 'run-link', title: run.id }, h('code', {}, shortId(run.id)))),
    cell('Workflow', h('a', { href: `/builder/${enc(run.workflow)}?version=${run.version}` }, run.workflow)),
    cell('Version', `v${run.version}`),
    cell('Status', h('span', { class: `badge status-${run.status}` }, run.status)),
    cell('Stage / step', run.stage ? `${run.stage.name}${run.step ? ` / ${run.step.name}` : ''}` : ''),
    cell('Entry', run.entry?.id ? h('code', { title: run.entry.id }, shortId(run.entry.id)) : ''),
    cell('Started by', run.startedBy ?? ''),
    cell('Updated', h('time', { datetime: run.updatedAt, title: formatTime(run.updatedAt) }, relativeTime(run.updatedAt))),
  );
}

function startForm(names, preselect) {
  const wf = h(
    'select',
    { id: 'start-workflow', required: true },
    names.map((n) => h('option', { value: n, selected: n === preselect }, n)),
  );
  const model = h('textarea', { id: 'start-model', rows: 4, spellcheck: 'false', aria: { describedby: 'start-model-hint' } }, '{}');
  const entry = h('input', { id: 'start-entry', type: 'text', spellcheck: 'false', aria: { describedby: 'start-entry-hint' } });
  const status = h('div', { aria: { live: 'polite' } });
  const form = h(
    'form',
    {
      class: 'start-form',
      onsubmit: async (e) => {
        e.preventDefault();
        let body;
        try {
          body = { model: model.value.trim() ? JSON.parse(model.value) : {} };
        } catch (err) {
          replace(status, message('error', `The model is not valid JSON: ${err.message}`));
          model.focus();
          return;
        }
        if (entry.value.trim()) body.entryId = entry.value.trim();
        replace(status, message('info', 'Starting…'));
        try {
          const res = await api('POST', `/api/workflows/${enc(wf.value)}/runs`, body);
          location.assign(`/runs/${enc(res.body.id)}`);
        } catch (err) {
          replace(status, message('error', `Not started: ${err instanceof ApiError ? err.describe() : err.message}`));
        }
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'start-workflow' }, 'Workflow'), wf),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'start-model' }, 'Model (JSON object)'),
      model,
      h('p', { class: 'hint', id: 'start-model-hint' }, 'The data the run works on.'),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'start-entry' }, 'Entry id (optional)'),
      entry,
      h('p', { class: 'hint', id: 'start-entry-hint' }, 'Runs on a saved entry start from its model.'),
    ),
    h('button', { type: 'submit', class: 'primary', disabled: !names.length }, 'Start run'),
    status,
  );
  return h('details', { class: 'start-run' }, h('summary', {}, 'Start a run'), form);
}
