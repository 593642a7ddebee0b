// The side panel (a sheet on a phone): the selected step's settings, the workflow's settings
// (name, title, access, versions, problems), and #builder-extra for sections other modules add.
import { enc } from './api.js';
import { formatTime, h, humanize, message, replace } from './dom.js';
import { schemaForm, showErrors, suggestions } from './schema-form.js';
import { describePath, issueLine, plainMessage } from './builder-messages.js';
import { principalOptions } from './builder-pickers.js';
import { leaveTo } from './guard.js';

export function buildPanel(b) {
  b.settingsEl = h('section', { class: 'step-settings', id: 'step-settings', aria: { labelledby: 'step-settings-h' } });
  b.wfEl = h('section', { class: 'wf-panel', id: 'wf-panel', aria: { label: 'Workflow settings' } });
  b.problemsEl = h('section', { class: 'problems', id: 'problems', aria: { labelledby: 'problems-h' } });
  b.extraEl = h('section', { id: 'builder-extra', class: 'builder-extra' });
  const tab = (name, label) =>
    h(
      'button',
      {
        type: 'button',
        role: 'tab',
        id: `tab-${name}`,
        aria: { controls: name === 'step' ? 'step-settings' : 'wf-panel' },
        onclick: () => b.showTab(name),
      },
      label,
    );
  b.tabs = { step: tab('step', 'Step'), workflow: tab('workflow', 'Workflow') };
  b.panelEl = h(
    'aside',
    { class: 'side-panel', id: 'side-panel', aria: { label: 'Settings' } },
    h(
      'div',
      { class: 'panel-head' },
      h('div', { role: 'tablist', class: 'tabs', aria: { label: 'Settings' } }, b.tabs.step, b.tabs.workflow),
      h('button', { type: 'button', class: 'icon sheet-close', aria: { label: 'Close settings' }, onclick: () => b.closeSheet() }, '✕'),
    ),
    b.settingsEl,
    b.wfEl,
    b.problemsEl,
    b.extraEl,
  );
  return b.panelEl;
}

export function showTab(b, name) {
  b.tab = name;
  for (const [k, el] of Object.entries(b.tabs)) {
    el.setAttribute('aria-selected', String(k === name));
    el.tabIndex = k === name ? 0 : -1;
  }
  b.settingsEl.hidden = name !== 'step';
  b.wfEl.hidden = name !== 'workflow';
}

export function renderSettings(b) {
  const step = b.selected;
  b.forms = [];
  if (!step) {
    replace(
      b.settingsEl,
      h('h2', { id: 'step-settings-h' }, 'Step settings'),
      h('p', { class: 'muted' }, 'Select a step to see its settings.'),
    );
    return;
  }
  const info = b.types.get(step.type);
  const id = b.uid(step);
  const opts = {
    readOnly: b.readOnly,
    suggest: b.suggest,
    onChange: (path) => {
      if (/\[\d+\]|Goto$|goto$/.test(path ?? '')) b.renderCanvas();
      else b.updateCard(step);
      b.changed({ group: true });
    },
    onStructure: () => b.structureChanged(),
  };
  b.stepIssuesEl = h('ul', { class: 'issues settings-issues' });
  if (!info) {
    replace(
      b.settingsEl,
      h('h2', { id: 'step-settings-h' }, 'Step settings'),
      message('error', `Unknown step type “${step.type}”.`),
      h('pre', { class: 'json' }, JSON.stringify(step, null, 2)),
    );
    return;
  }
  const commonProps = info.common?.properties ?? {};
  const ident = schemaForm(
    {
      type: 'object',
      properties: { id: commonProps.id ?? { type: 'string' }, ...(commonProps.name ? { name: commonProps.name } : {}) },
      required: ['id'],
    },
    step,
    { ...opts, idPrefix: `s${id}-c` },
  );
  const params = schemaForm(info.schema, step, { ...opts, idPrefix: `s${id}-p` });
  const advancedProps = Object.fromEntries(Object.entries(commonProps).filter(([k]) => k !== 'id' && k !== 'name'));
  const advanced = Object.keys(advancedProps).length
    ? schemaForm({ type: 'object', properties: advancedProps }, step, { ...opts, idPrefix: `s${id}-a` })
    : null;
  b.forms = [ident, params, advanced].filter(Boolean);
  const hasParams = Object.values(info.schema?.properties ?? {}).some((p) => !p['x-steps']);
  replace(
    b.settingsEl,
    h('h2', { id: 'step-settings-h' }, 'Step settings'),
    h('p', { class: 'settings-type' }, h('strong', {}, humanize(step.type)), ' — ', info.description),
    b.stepIssuesEl,
    h(
      'form',
      { class: 'settings-form', onsubmit: (e) => e.preventDefault(), aria: { label: `Settings of ${step.id}` } },
      ident.el,
      h('div', { class: 'params-form' }, hasParams ? params.el : h('p', { class: 'muted' }, 'This step has no parameters.')),
      advanced
        ? h(
            'details',
            { class: 'advanced', open: Boolean(step.retry || (step.timeoutMs !== undefined && !info.schema?.properties?.timeoutMs)) },
            h('summary', {}, 'Retry and timeout'),
            advanced.el,
          )
        : null,
    ),
  );
  b.applyIssues();
}

export function renderWorkflowPanel(b) {
  const ro = b.readOnly;
  const def = b.def;
  const field = (id, label, input, hint, path, extra) =>
    h(
      'div',
      { class: 'field', dataset: { path } },
      h('label', { for: id }, label),
      input,
      extra,
      hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
      h('p', { class: 'field-error', id: `${id}-err`, hidden: true }),
    );
  const described = (id, hint) => ({ describedby: [hint ? `${id}-hint` : null, `${id}-err`].filter(Boolean).join(' ') });
  const nameHint = b.savedName ? 'changing the name saves a new workflow; the old one stays' : 'letters, digits, _ and -; used in URLs';
  const nameInput = h('input', {
    id: 'wf-name',
    type: 'text',
    value: def.name ?? '',
    disabled: ro,
    spellcheck: 'false',
    autocomplete: 'off',
    dataset: { path: '.name' },
    aria: { ...described('wf-name', nameHint), required: 'true' },
    oninput: (e) => {
      def.name = e.target.value.trim();
      b.touchedName = true;
      b.changed({ group: true });
      b.renderHead();
    },
  });
  const titleInput = h('input', {
    id: 'wf-title',
    type: 'text',
    value: def.title ?? '',
    disabled: ro,
    dataset: { path: '.title' },
    aria: described('wf-title'),
    oninput: (e) => {
      if (e.target.value.trim()) def.title = e.target.value;
      else delete def.title;
      b.changed({ group: true });
    },
  });
  const accessBox = h('div', { class: 'access-lists', id: 'wf-access', hidden: !def.restrictAccess });
  const radio = (value, label) =>
    h(
      'label',
      { class: 'radio' },
      h('input', {
        type: 'radio',
        name: 'wf-restrict',
        id: `wf-restrict-${value ? 'yes' : 'no'}`,
        value: value ? 'yes' : 'no',
        checked: Boolean(def.restrictAccess) === value,
        disabled: ro,
        onchange: () => {
          def.restrictAccess = value;
          accessBox.hidden = !value;
          b.changed();
        },
      }),
      ` ${label}`,
    );
  const restrict = h(
    'fieldset',
    { class: 'field restrict', dataset: { path: '.restrictAccess' } },
    h('legend', {}, 'Restrict access'),
    radio(false, 'No'),
    radio(true, 'Yes'),
    h('p', { class: 'hint' }, 'Yes: only the users and roles named below (and admins) see and use the workflow’s runs.'),
    h('p', { class: 'field-error', id: 'wf-restrict-err', hidden: true }),
  );
  const listHint = 'pick users or roles; comma-separated';
  const options = b.catalogs ? principalOptions(b.catalogs) : null;
  for (const action of ['read', 'start', 'confirm', 'operate']) {
    const id = `wf-access-${action}`;
    const input = h('input', {
      id,
      type: 'text',
      disabled: ro,
      spellcheck: 'false',
      dataset: { path: `.access.${action}` },
      aria: described(id, listHint),
      value: (def.access?.[action] ?? []).join(', '),
      oninput: (e) => {
        const list = e.target.value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        def.access ??= {};
        if (list.length) def.access[action] = list;
        else delete def.access[action];
        if (!Object.keys(def.access).length) delete def.access;
        b.changed({ group: true });
      },
    });
    accessBox.append(
      field(
        id,
        `${humanize(action)} access`,
        input,
        listHint,
        `.access.${action}`,
        suggestions(input, id, options && { multi: true, options }),
      ),
    );
  }
  b.wfSettingsEl = h(
    'div',
    { class: 'wf-settings' },
    field('wf-name', 'Workflow name', nameInput, nameHint, '.name'),
    field('wf-title', 'Title', titleInput, null, '.title'),
    restrict,
    accessBox,
  );
  b.historyEl = h('div', { class: 'history' });
  replace(b.wfEl, h('h2', {}, 'Workflow'), b.wfSettingsEl, b.historyEl);
  renderVersions(b);
}

export function renderVersions(b) {
  if (!b.versions.length) return replace(b.historyEl);
  const select = h(
    'select',
    { id: 'version-select' },
    [...b.versions]
      .reverse()
      .map((v) =>
        h(
          'option',
          { value: String(v.version), selected: v.version === b.version },
          `v${v.version} — ${formatTime(v.savedAt)}${v.version === b.latest ? ' (latest)' : ''}`,
        ),
      ),
  );
  replace(
    b.historyEl,
    h('label', { for: 'version-select' }, 'Version history'),
    select,
    h(
      'button',
      {
        type: 'button',
        id: 'open-version',
        onclick: () => {
          const v = Number(select.value);
          leaveTo(v === b.latest ? `/builder/${enc(b.savedName)}` : `/builder/${enc(b.savedName)}?version=${v}`);
        },
      },
      'Open version',
    ),
  );
}

export function renderProblems(b) {
  const { errors, warnings } = b.shownIssues();
  const all = [...errors.map((e) => ({ ...e, kind: 'error' })), ...warnings.map((e) => ({ ...e, kind: 'warning' }))];
  replace(
    b.problemsEl,
    h('h2', { id: 'problems-h' }, 'Problems'),
    all.length
      ? h(
          'ul',
          { class: 'problem-list' },
          all.map((p) => {
            const hit = b.stepAt(p.path);
            return h(
              'li',
              { class: `problem-${p.kind}` },
              h('span', { class: `tag tag-${p.kind}` }, p.kind === 'error' ? 'Error' : 'Warning'),
              ' ',
              h('span', { class: 'problem-where' }, describePath(b.def, b.types, p.path)),
              ': ',
              plainMessage(p.message),
              ' ',
              hit
                ? h(
                    'button',
                    {
                      type: 'button',
                      class: 'link-button',
                      onclick: () => {
                        b.select(hit);
                        b.refocus(`${b.uid(hit)}:select`);
                      },
                    },
                    `Show ${hit.id ?? 'step'}`,
                  )
                : null,
            );
          }),
        )
      : h('p', { class: 'muted' }, b.validity === 'valid' ? 'None.' : '—'),
  );
}

export function applyFormIssues(b, errors, warnings) {
  if (b.wfSettingsEl)
    showErrors(
      b.wfSettingsEl,
      errors.workflow.map((e) => ({ ...e, rel: e.path.slice(1), message: plainMessage(e.message) })),
    );
  if (b.selected && b.forms.length) {
    const mine = (errors.byStep.get(b.selected) ?? []).map((e) => ({ ...e, message: plainMessage(e.message) }));
    const leftovers = b.forms.map((f) => new Set(f.showErrors(mine)));
    const unplaced = mine.filter((e) => leftovers.every((set) => set.has(e)));
    replace(
      b.stepIssuesEl,
      unplaced.map((e) => h('li', { class: 'issue-error', role: 'alert' }, issueLine(e))),
      (warnings.byStep.get(b.selected) ?? []).map((e) => h('li', { class: 'issue-warning' }, issueLine(e))),
    );
  }
}
