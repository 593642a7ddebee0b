// The diagnosis of a run in plain words (GET /api/runs/{id}/diagnosis): what it waits for and
// what happens next, with a Repair button when its step job is missing and the caller may
// operate. A module of its own so any run page can mount it: mountDiagnosis(container, runId, ctx).
import { api, ApiError, enc, get } from './api.js';
import { formatTime, h, message, replace } from './dom.js';

const POLL_MS = 2000;

const STATE_LABEL = {
  'waiting-confirmation': 'Waiting for an answer',
  resuming: 'Resuming',
  'waiting-child': 'Waiting for a child run',
  'retry-delayed': 'Retry scheduled',
  active: 'Running on a worker',
  stalled: 'Worker lost',
  queued: 'Queued',
  'no-job': 'Stuck: no job',
  'job-failed': 'Job failed',
  finished: 'Finished',
};

/**
 * ctx: { principal?: {roles}, canOperate?: boolean }. Returns the container; polls while it is
 * in the document.
 */
export function mountDiagnosis(container, runId, ctx = {}) {
  const canOperate = ctx.canOperate ?? Boolean(ctx.principal?.roles?.some((r) => r === 'admin' || r === 'operator'));
  container.classList.add('diagnosis-panel', 'run-actions');
  container.id ||= 'run-diagnosis';
  const body = h('div', { class: 'diagnosis-body', aria: { live: 'polite' } });
  const status = h('div', { class: 'diagnosis-status' });
  replace(container, h('h2', { id: 'diagnosis-h' }, 'Diagnosis'), body, status);
  container.setAttribute('aria-labelledby', 'diagnosis-h');
  let timer;
  let lastKey = '';

  const render = (d) => {
    const key = JSON.stringify(d);
    if (key === lastKey) return;
    lastKey = key;
    replace(
      body,
      h('p', { class: 'diagnosis-state' }, h('strong', { dataset: { state: d.state } }, STATE_LABEL[d.state] ?? d.state)),
      h('p', { class: 'diagnosis-summary', id: 'diagnosis-summary' }, d.summary),
      d.details?.length
        ? h(
            'ul',
            { class: 'diagnosis-details' },
            d.details.map((line) => h('li', {}, line)),
          )
        : null,
      d.since || d.until
        ? h(
            'p',
            { class: 'muted' },
            d.since ? `Since ${formatTime(d.since)}` : '',
            d.since && d.until ? ' · ' : '',
            d.until ? `until ${formatTime(d.until)}` : '',
          )
        : null,
      d.child
        ? h(
            'details',
            { class: 'diagnosis-child' },
            h('summary', {}, 'The child run'),
            h('p', {}, h('a', { href: `/runs/${enc(d.child.runId)}` }, d.child.runId), ': ', d.child.summary ?? 'gone'),
          )
        : null,
      d.repairable && canOperate
        ? h('button', { type: 'button', id: 'repair-run', class: 'primary', onclick: repair }, 'Repair now')
        : null,
    );
  };

  async function load() {
    clearTimeout(timer);
    if (!container.isConnected && lastKey) return;
    try {
      render(await get(`/api/runs/${enc(runId)}/diagnosis`));
    } catch (err) {
      replace(body, message('error', `The diagnosis is not available: ${err instanceof ApiError ? err.describe() : err.message}`));
    }
    timer = setTimeout(load, POLL_MS);
  }

  async function repair(ev) {
    ev.currentTarget.disabled = true;
    try {
      const res = await api('POST', `/api/runs/${enc(runId)}/repair`, {});
      replace(status, message('ok', 'Repaired: the step has a job again.'));
      render(res.body);
    } catch (err) {
      replace(status, message('error', err instanceof ApiError ? err.describe() : err.message));
      await load();
    }
  }

  void load();
  return container;
}
