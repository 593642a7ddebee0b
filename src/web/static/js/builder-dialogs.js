// The builder's dialogs: a card's actions (move to…, duplicate, remove), and running the saved
// workflow with a model form built from the fields it reads.
import { api, enc } from './api.js';
import { h, message, replace, uid } from './dom.js';
import { parseLenient } from './schema-form.js';
import { fieldsOf } from './builder-pickers.js';

function modal(title, ...body) {
  const titleId = uid('dlg-title');
  const dialog = h('dialog', { class: 'dialog', aria: { labelledby: titleId } }, h('h2', { id: titleId }, title), ...body);
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** Actions on one step: every move the mouse can do, for the keyboard. */
export function stepMenu(b, step) {
  const loc = b.locate(step);
  if (!loc) return;
  const label = step.id || 'step';
  const targets = [...b.containers.entries()].filter(([, c]) => !c.owner || !b.isWithin(c.owner, step));
  const select = h(
    'select',
    { id: 'move-target' },
    targets.map(([key, c]) => h('option', { value: key, selected: c.list() === loc.list }, c.label)),
  );
  const position = h(
    'select',
    { id: 'move-position' },
    h('option', { value: 'end' }, 'at the end'),
    h('option', { value: 'start' }, 'at the start'),
  );
  const act = (fn) => () => {
    dialog.close();
    fn();
  };
  const dialog = modal(
    `Step ${label}`,
    h(
      'div',
      { class: 'button-row' },
      h('button', { type: 'button', disabled: loc.index === 0, onclick: act(() => b.moveWithin(step, -1)) }, 'Move up'),
      h('button', { type: 'button', disabled: loc.index === loc.list.length - 1, onclick: act(() => b.moveWithin(step, 1)) }, 'Move down'),
      h('button', { type: 'button', onclick: act(() => b.duplicate(step)) }, 'Duplicate'),
      h('button', { type: 'button', class: 'danger', onclick: act(() => b.removeStep(step)) }, 'Remove'),
    ),
    h(
      'form',
      {
        class: 'move-form',
        onsubmit: (e) => {
          e.preventDefault();
          const c = b.containers.get(select.value);
          dialog.close();
          if (c) b.moveStepTo(b.uid(step), select.value, position.value === 'start' ? 0 : c.list().length);
        },
      },
      h('div', { class: 'field' }, h('label', { for: 'move-target' }, 'Move to'), select),
      h('div', { class: 'field' }, h('label', { for: 'move-position' }, 'Position'), position),
      h(
        'div',
        { class: 'dialog-buttons' },
        h('button', { type: 'button', onclick: () => dialog.close() }, 'Close'),
        h('button', { type: 'submit', class: 'primary' }, 'Move'),
      ),
    ),
  );
  dialog.querySelector('button:not([disabled])')?.focus();
}

const setPath = (obj, path, value) => {
  const keys = path.split('.');
  let o = obj;
  keys.slice(0, -1).forEach((k) => {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k];
  });
  o[keys[keys.length - 1]] = value;
};

/** Starts a run of the saved workflow; the form asks for every field the workflow reads. */
export function runDialog(b) {
  const name = b.savedName;
  const { read } = fieldsOf(b.def, b.types);
  const inputs = read.sort().map((field, i) => {
    const id = `run-field-${i}`;
    return {
      field,
      el: h(
        'div',
        { class: 'field' },
        h('label', { for: id }, field),
        h('input', { id, type: 'text', spellcheck: 'false', dataset: { field } }),
        h('p', { class: 'hint' }, 'JSON or text; empty leaves the field out'),
      ),
    };
  });
  const extra = h('textarea', { id: 'run-extra-model', rows: 3, spellcheck: 'false' });
  const status = h('div', { aria: { live: 'polite' }, id: 'run-dialog-status' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'run-start' }, 'Start run');
  const dialog = modal(
    `Run ${name}`,
    h(
      'form',
      {
        class: 'run-form',
        onsubmit: async (e) => {
          e.preventDefault();
          const model = {};
          if (extra.value.trim()) {
            try {
              Object.assign(model, JSON.parse(extra.value));
            } catch {
              replace(status, message('error', 'Other fields: not valid JSON.'));
              return;
            }
          }
          for (const { field, el } of inputs) {
            const text = el.querySelector('input').value;
            const { value } = parseLenient(text);
            if (value !== undefined) setPath(model, field, value);
          }
          submit.disabled = true;
          replace(status, message('info', 'Starting…'));
          try {
            const res = await api('POST', `/api/workflows/${enc(name)}/runs`, { model });
            replace(
              status,
              message('ok', 'Started. ', h('a', { href: `/runs/${enc(res.body.id)}`, id: 'run-dialog-link' }, 'Open the run')),
            );
          } catch (err) {
            replace(status, message('error', `Not started: ${err.message}`));
          } finally {
            submit.disabled = false;
          }
        },
      },
      h('p', {}, `Runs version ${b.version} with this model.`),
      inputs.length ? inputs.map((i) => i.el) : h('p', { class: 'muted' }, 'The workflow reads no fields.'),
      h('div', { class: 'field' }, h('label', { for: 'run-extra-model' }, 'Other fields (JSON object, optional)'), extra),
      status,
      h('div', { class: 'dialog-buttons' }, h('button', { type: 'button', onclick: () => dialog.close() }, 'Close'), submit),
    ),
  );
  (dialog.querySelector('input') ?? extra).focus();
}
