// /dataflows: the registered dataflows (designers and admins); register or edit one (http,
// module, workflow) and test it once with an input, outside any run.
import { api, ApiError, enc, get } from './api.js';
import { h, message, pretty, replace } from './dom.js';

const KINDS = {
  http: {
    label: 'HTTP endpoint',
    fields: [
      ['url', 'URL', 'text', 'POSTed the input as JSON; answers JSON'],
      ['headers', 'Headers (JSON object, optional)', 'json', 'e.g. {"authorization": "Bearer …"}'],
      ['timeoutMs', 'Timeout ms', 'number', 'default 10000'],
    ],
  },
  module: {
    label: 'Module in workers/dataflows',
    fields: [
      ['module', 'Module', 'text', 'file name without .ts, e.g. echo'],
      ['timeoutMs', 'Timeout ms (optional)', 'number', ''],
    ],
  },
  workflow: {
    label: 'Another workflow (child run)',
    fields: [
      ['workflow', 'Workflow', 'text', 'the workflow a run is started of'],
      ['timeoutMs', 'Timeout ms (optional)', 'number', 'how long the parent waits'],
    ],
  },
};

export async function mount(main, { principal }) {
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Dataflows')));
  if (!principal.designer) {
    main.append(
      h(
        'p',
        { class: 'muted', id: 'dataflows-forbidden' },
        'Dataflows are managed by designers and admins: their definitions can hold credentials.',
      ),
    );
    return;
  }
  const listEl = h('section', { id: 'dataflow-list', aria: { labelledby: 'df-list-h' } });
  const formEl = h('section', { class: 'dataflow-form', id: 'dataflow-editor', aria: { labelledby: 'df-form-h' } });
  const testEl = h('section', { class: 'dataflow-test', id: 'dataflow-test', aria: { labelledby: 'df-test-h' } });
  const workflows = await get('/api/workflows')
    .then((r) => r.items.map((w) => w.name))
    .catch(() => []);
  let items = [];

  async function loadList(select) {
    try {
      items = (await get('/api/dataflows')).items;
    } catch (err) {
      replace(listEl, message('error', `Could not load the dataflows: ${err.message}`));
      return;
    }
    replace(
      listEl,
      h('h2', { id: 'df-list-h' }, 'Registered'),
      items.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'list' },
              h('caption', { class: 'visually-hidden' }, 'Dataflows'),
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Name', 'Kind', 'Target', ''].map((c, i) =>
                    h('th', { scope: 'col' }, i === 3 ? h('span', { class: 'visually-hidden' }, 'Actions') : c),
                  ),
                ),
              ),
              h(
                'tbody',
                {},
                items.map((d) =>
                  h(
                    'tr',
                    { dataset: { dataflow: d.name } },
                    h('td', { dataset: { label: 'Name' } }, h('code', {}, d.name)),
                    h('td', { dataset: { label: 'Kind' } }, d.kind),
                    h('td', { dataset: { label: 'Target' } }, d.url ?? d.module ?? d.workflow ?? ''),
                    h(
                      'td',
                      { dataset: { label: 'Actions' } },
                      h('button', { type: 'button', class: 'small', aria: { label: `Edit ${d.name}` }, onclick: () => edit(d) }, 'Edit'),
                      ' ',
                      h('button', { type: 'button', class: 'small', aria: { label: `Test ${d.name}` }, onclick: () => test(d) }, 'Test'),
                    ),
                  ),
                ),
              ),
            ),
          )
        : h('p', { class: 'empty-state', id: 'no-dataflows' }, 'No dataflows yet. Register one with the form.'),
    );
    if (select) {
      const d = items.find((x) => x.name === select);
      if (d) test(d);
    }
  }

  function edit(def) {
    const editing = Boolean(def?.name);
    const name = h('input', {
      id: 'df-name',
      type: 'text',
      value: def?.name ?? '',
      spellcheck: 'false',
      readonly: editing,
      required: true,
      aria: { describedby: 'df-name-hint' },
    });
    const kind = h(
      'select',
      { id: 'df-kind' },
      Object.entries(KINDS).map(([k, v]) => h('option', { value: k, selected: k === (def?.kind ?? 'http') }, v.label)),
    );
    const fieldsBox = h('div', {});
    const status = h('div', { aria: { live: 'polite' }, id: 'df-status' });
    const renderFields = () => {
      replace(
        fieldsBox,
        KINDS[kind.value].fields.map(([key, label, type, hint]) => {
          const id = `df-${key}`;
          const value = def?.kind === kind.value ? def[key] : undefined;
          const input =
            type === 'json'
              ? h(
                  'textarea',
                  { id, rows: 2, spellcheck: 'false', dataset: { key, type } },
                  value === undefined ? '' : JSON.stringify(value),
                )
              : h('input', {
                  id,
                  type: type === 'number' ? 'number' : 'text',
                  spellcheck: 'false',
                  dataset: { key, type },
                  value: value ?? '',
                  list: key === 'workflow' ? 'df-workflows' : undefined,
                });
          return h(
            'div',
            { class: 'field' },
            h('label', { for: id }, label),
            input,
            hint ? h('p', { class: 'hint' }, hint) : null,
            h('p', { class: 'field-error', id: `${id}-err`, hidden: true }),
          );
        }),
        h(
          'datalist',
          { id: 'df-workflows' },
          workflows.map((w) => h('option', { value: w })),
        ),
      );
    };
    kind.addEventListener('change', renderFields);
    renderFields();
    const form = h(
      'form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          const body = { kind: kind.value };
          for (const input of fieldsBox.querySelectorAll('[data-key]')) {
            const v = input.value.trim();
            if (!v) continue;
            if (input.dataset.type === 'number') body[input.dataset.key] = Number(v);
            else if (input.dataset.type === 'json') {
              try {
                body[input.dataset.key] = JSON.parse(v);
              } catch {
                replace(status, message('error', `${input.dataset.key}: not valid JSON.`));
                return;
              }
            } else body[input.dataset.key] = v;
          }
          for (const el of form.querySelectorAll('.field-error')) {
            el.hidden = true;
            el.textContent = '';
          }
          try {
            const res = await api('PUT', `/api/dataflows/${enc(name.value.trim())}`, body);
            // The list (and the test panel it selects) is redrawn first, so once the status says
            // "Registered" the page is settled: input typed after it is not reset by the redraw.
            await loadList(res.body.name);
            replace(
              status,
              message(
                'ok',
                res.body.created
                  ? `Registered ${res.body.name}.`
                  : res.body.changed
                    ? `Saved ${res.body.name}.`
                    : `No changes to ${res.body.name}.`,
              ),
            );
          } catch (err) {
            if (err instanceof ApiError) {
              for (const fe of err.errors) {
                const key = fe.path.replace(/^\$\.?/, '').split(/[.[]/)[0] || 'name';
                const slot = form.querySelector(`#df-${CSS.escape(key)}-err`);
                if (slot) {
                  slot.hidden = false;
                  slot.textContent = fe.message;
                }
              }
            }
            replace(status, message('error', `Not saved: ${err instanceof ApiError ? err.describe() : err.message}`));
          }
        },
      },
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'df-name' }, 'Name'),
        name,
        h('p', { class: 'hint', id: 'df-name-hint' }, 'letters, digits, _ and -; steps name it'),
        h('p', { class: 'field-error', id: 'df-name-err', hidden: true }),
      ),
      h('div', { class: 'field' }, h('label', { for: 'df-kind' }, 'Kind'), kind),
      fieldsBox,
      h(
        'div',
        { class: 'button-row' },
        h('button', { type: 'submit', class: 'primary', id: 'df-save' }, editing ? 'Save dataflow' : 'Register dataflow'),
        editing ? h('button', { type: 'button', onclick: () => edit(null) }, 'New dataflow') : null,
      ),
      status,
    );
    replace(formEl, h('h2', { id: 'df-form-h' }, editing ? `Edit ${def.name}` : 'Register a dataflow'), form);
    if (editing) kind.focus();
    else name.focus();
  }

  function test(def) {
    const input = h('textarea', { id: 'df-test-input', rows: 5, spellcheck: 'false', aria: { describedby: 'df-test-hint' } }, '{}');
    const out = h('div', { id: 'df-test-result', aria: { live: 'polite' } });
    const run = h('button', { type: 'submit', class: 'primary', id: 'df-test-run' }, 'Run test');
    replace(
      testEl,
      h('h2', { id: 'df-test-h' }, `Test ${def.name}`),
      h(
        'form',
        {
          onsubmit: async (e) => {
            e.preventDefault();
            let value;
            try {
              value = input.value.trim() ? JSON.parse(input.value) : null;
            } catch {
              replace(out, message('error', 'The input is not valid JSON.'));
              return;
            }
            run.disabled = true;
            replace(out, message('info', def.kind === 'workflow' ? 'Starting a run…' : 'Calling…'));
            try {
              const res = (await api('POST', `/api/dataflows/${enc(def.name)}/test`, { input: value })).body;
              replace(
                out,
                res.kind === 'workflow'
                  ? [
                      message('ok', `Run ${res.status}. `, h('a', { href: `/runs/${enc(res.runId)}` }, 'Open the run')),
                      res.model ? h('pre', { class: 'json', tabindex: '0' }, pretty(res.model)) : null,
                    ]
                  : [
                      message('ok', `Answered in ${res.durationMs} ms.`),
                      h('pre', { class: 'json', tabindex: '0', id: 'df-test-json' }, pretty(res.result)),
                    ],
              );
            } catch (err) {
              replace(out, message('error', err instanceof ApiError ? err.message : `Could not test: ${err.message}`));
            } finally {
              run.disabled = false;
            }
          },
        },
        h(
          'div',
          { class: 'field' },
          h('label', { for: 'df-test-input' }, 'Input (JSON)'),
          input,
          h(
            'p',
            { class: 'hint', id: 'df-test-hint' },
            def.kind === 'workflow'
              ? 'Becomes the model of a real run of the workflow.'
              : 'Sent once, with a fresh idempotency key; no run is involved.',
          ),
        ),
        run,
        out,
      ),
    );
    input.focus();
  }

  main.append(h('div', { class: 'dataflow-grid' }, h('div', {}, listEl), h('div', {}, formEl, testEl)));
  await loadList();
  edit(null);
}
