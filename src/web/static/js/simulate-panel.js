// The builder's "Test" panel: runs the saved version on a model with POST
// /api/workflows/{name}/simulate (stubs for confirmations and dataflows, nothing sent, called or
// saved) and shows the path taken, the effects that would happen and the final model.
// mountSimulate(container, {workflow, version}, ctx); `version` may be a function (the builder's
// current saved version).
import { api, ApiError, enc } from './api.js';
import { h, message, pretty, replace, uid } from './dom.js';

export function mountSimulate(container, { workflow, version }, _ctx = {}) {
  container.classList.add('simulate-panel', 'run-actions');
  container.id ||= 'simulate-panel';
  const modelId = uid('sim-model');
  const stubsId = uid('sim-stubs');
  const model = h('textarea', { id: modelId, rows: 5, spellcheck: 'false', class: 'code' }, '{}');
  const stubs = h('textarea', { id: stubsId, rows: 3, spellcheck: 'false', class: 'code' }, '{}');
  const out = h('div', { class: 'simulate-result', id: 'simulate-result', aria: { live: 'polite' } });
  const run = h('button', { type: 'button', id: 'simulate-run', class: 'primary' }, 'Run test');
  const versionOf = () => (typeof version === 'function' ? version() : version);

  run.addEventListener('click', async () => {
    const parsed = {};
    for (const [name, el] of [
      ['model', model],
      ['stubs', stubs],
    ]) {
      try {
        parsed[name] = JSON.parse(el.value || '{}');
      } catch (err) {
        replace(out, message('error', `The ${name} is not JSON: ${err.message}`));
        el.focus();
        return;
      }
    }
    run.disabled = true;
    try {
      const v = versionOf();
      const res = await api('POST', `/api/workflows/${enc(workflow)}/simulate`, {
        model: parsed.model,
        stubs: parsed.stubs,
        ...(v ? { version: v } : {}),
      });
      show(res.body, v);
    } catch (err) {
      replace(out, message('error', err instanceof ApiError ? err.describe() : err.message));
    } finally {
      run.disabled = false;
    }
  });

  function show(r, v) {
    replace(
      out,
      message(
        r.status === 'failed' ? 'error' : 'ok',
        `Version ${v ?? 'latest'}: ${r.status}${r.outcome ? ` (${r.outcome})` : ''}${r.error ? ` — ${r.error.message}` : ''}. Nothing was sent, called or saved.`,
      ),
      h('h3', {}, 'Path'),
      h(
        'ol',
        { class: 'simulate-path', id: 'simulate-path' },
        r.path.map((p) => h('li', { dataset: { stepId: p.stepId } }, `${p.stageId} › ${p.stepId} (${p.type})`)),
      ),
      r.effects.length
        ? [
            h('h3', {}, 'Would happen'),
            h(
              'ul',
              { class: 'simulate-effects', id: 'simulate-effects' },
              r.effects.map((e) =>
                h(
                  'li',
                  {},
                  `${e.stepId}: ${e.kind}`,
                  e.kind === 'notification'
                    ? ` to ${e.detail.recipients.join(', ')}: “${e.detail.body}”`
                    : e.kind === 'dataflow'
                      ? ` ${e.detail.dataflow}`
                      : e.kind === 'confirmation'
                        ? ` → ${e.detail.option}`
                        : '',
                ),
              ),
            ),
          ]
        : null,
      r.notes.length
        ? [
            h('h3', {}, 'Assumed'),
            h(
              'ul',
              { class: 'simulate-notes' },
              r.notes.map((n) => h('li', {}, n)),
            ),
          ]
        : null,
      h('h3', {}, 'Model after the test'),
      h('pre', { class: 'code', id: 'simulate-model' }, pretty(r.model)),
    );
  }

  replace(
    container,
    h('h2', {}, 'Test'),
    h(
      'p',
      { class: 'muted' },
      'Runs the saved version on this model with every side effect replaced by a record. Stubs: step id → the option a confirmation takes, or the result a dataflow returns.',
    ),
    h('label', { for: modelId }, 'Model (JSON)'),
    model,
    h('label', { for: stubsId }, 'Stubs (JSON)'),
    stubs,
    h('div', {}, run),
    out,
  );
  return container;
}
