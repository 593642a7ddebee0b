// Settings forms generated from JSON Schema (as served by GET /api/step-types). Edits write into
// the target object in place; an emptied input removes its key, so absent stays absent.
import { h, humanize } from './dom.js';

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/** The value a new object gets for a required property (schema default, first enum value, nested defaults). */
export function defaultFor(ps) {
  if (!ps) return undefined;
  if ('default' in ps) return clone(ps.default);
  if (ps['x-steps']) return [];
  if (Array.isArray(ps.enum) && ps.enum.length) return ps.enum[0];
  if (ps.type === 'object' && ps.properties) return defaultsFor(ps);
  if (ps.type === 'array' && ps.items?.type === 'object' && (ps.minItems ?? 0) > 0) return [defaultsFor(ps.items)];
  return undefined;
}

export function defaultsFor(schema) {
  const out = {};
  const required = new Set(schema?.required ?? []);
  for (const [k, ps] of Object.entries(schema?.properties ?? {})) {
    if (!required.has(k) && !('default' in (ps ?? {}))) continue;
    const v = defaultFor(ps);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function kindOf(ps) {
  if (!ps || ps['x-any-json'] || Array.isArray(ps.type)) return 'json';
  if (ps['x-steps']) return 'steps';
  if (Array.isArray(ps.enum)) return 'enum';
  if ('const' in ps) return 'const';
  if (Array.isArray(ps.anyOf) || Array.isArray(ps.oneOf)) return 'union';
  if (ps.type === 'boolean') return 'boolean';
  if (ps.type === 'integer' || ps.type === 'number') return 'number';
  if (ps.type === 'string') return 'string';
  if (ps.type === 'array' && ps.items?.type === 'string') return 'strings';
  if (ps.type === 'array' && ps.items?.type === 'object') return 'objects';
  if (ps.type === 'object' && ps.properties) return 'object';
  return 'json';
}

/** Does a subtree contain a step list? Changing it changes the branches drawn on the canvas. */
function holdsSteps(ps) {
  if (!ps) return false;
  if (ps['x-steps']) return true;
  return Object.values(ps.properties ?? {}).some(holdsSteps) || holdsSteps(ps.items);
}

// ---- lenient JSON: text that is not JSON is taken as a string ----

export function parseLenient(text) {
  if (text.trim() === '') return { value: undefined };
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { value: text, asString: true };
  }
}

export function showLenient(value) {
  if (value === undefined) return '';
  if (typeof value === 'string') {
    try {
      JSON.parse(value);
      return JSON.stringify(value); // "42", "true", "null" as strings keep their quotes
    } catch {
      return value;
    }
  }
  return JSON.stringify(value);
}

function describeJson(value) {
  if (value === undefined) return 'not set';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value} ${typeof value === 'object' ? '' : JSON.stringify(value)}`.trim();
}

const splitList = (text) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function hintFor(key, ps, kind) {
  const bits = [];
  if (kind === 'strings')
    bits.push(/routing|read|start|confirm|operate/i.test(key) ? 'user ids or role:<name>, comma-separated' : 'comma-separated');
  if (kind === 'json') bits.push('JSON (text that is not JSON is taken as a string)');
  if (/Field$|^field$|^input$/.test(key) && kind === 'string') bits.push('a field path in the model, like a.b.c');
  if (/Goto$|^goto$/.test(key)) bits.push('a stage id');
  if (/Ms$/.test(key)) bits.push('milliseconds');
  if (kind === 'number') {
    if (ps.minimum !== undefined && ps.maximum !== undefined && ps.maximum < 1e12) bits.push(`${ps.minimum}–${ps.maximum}`);
    else if (ps.minimum !== undefined) bits.push(`at least ${ps.minimum}`);
  }
  return bits.join('; ');
}

/**
 * A <datalist> of picks for a text input. For a comma-separated list the options are offered as
 * "what is typed so far, <option>", so picking one appends instead of replacing.
 */
export function suggestions(input, id, picks) {
  if (!picks?.options?.length) return null;
  const list = h('datalist', { id: `${id}-list` });
  const fill = () => {
    const head = picks.multi ? input.value.replace(/[^,]*$/, '').replace(/\s*$/, '') : '';
    const taken = new Set(picks.multi ? splitList(input.value) : []);
    list.replaceChildren(
      ...picks.options
        .filter((c) => !taken.has(c.value))
        .map((c) => h('option', { value: head ? `${head} ${c.value}` : c.value, label: c.label ?? undefined })),
    );
  };
  fill();
  input.setAttribute('list', list.id);
  input.setAttribute('autocomplete', 'off');
  input.addEventListener('input', fill);
  return list;
}

const idFrom = (prefix, path) => `${prefix}${path.replace(/[^A-Za-z0-9_-]+/g, '_')}`;

/**
 * Renders fields for `schema` writing into `target`. Options:
 * - idPrefix: makes element ids unique and stable across re-renders (focus survives them);
 * - readOnly; onChange(): after every edit; onStructure(): after edits that add/remove branches;
 * - only/skip: property names to include/exclude; basePath: JSON path of target ('' for a step).
 * Returns {el, showErrors(issues with .rel)}.
 */
export function schemaForm(schema, target, opts) {
  const o = { idPrefix: 'f', basePath: '', readOnly: false, onChange() {}, onStructure() {}, ...opts };
  const root = h('div', { class: 'schema-form' });
  const render = () => {
    const active = root.contains(document.activeElement) ? document.activeElement.id : '';
    root.replaceChildren(...objectFields(schema, target, o.basePath, o, render, o.only, o.skip));
    if (active) document.getElementById(active)?.focus();
  };
  render();
  return { el: root, showErrors: (issues) => showErrors(root, issues), render };
}

function objectFields(schema, obj, path, o, rerender, only, skip) {
  const required = new Set(schema?.required ?? []);
  const out = [];
  for (const [key, ps] of Object.entries(schema?.properties ?? {})) {
    if (only && !only.includes(key)) continue;
    if (skip?.includes(key)) continue;
    const f = field(key, ps, obj, required.has(key), `${path}.${key}`, o, rerender);
    if (f) out.push(f);
  }
  return out;
}

/** The label; the required mark sits outside it (aria-required on the control says it to assistive tech). */
function labelFor(id, key, required) {
  return h(
    'div',
    { class: 'label-row' },
    h('label', { for: id }, humanize(key)),
    required ? h('span', { class: 'req', 'aria-hidden': 'true', title: 'required' }, '*') : null,
  );
}

function wrap(path, kind, ...children) {
  return h('div', { class: ['field', `field-${kind}`], dataset: { path } }, ...children);
}

function errorSlot(id) {
  return h('p', { class: 'field-error', id: `${id}-err`, hidden: true });
}

function hintEl(id, text) {
  return text ? h('p', { class: 'hint', id: `${id}-hint` }, text) : null;
}

function describedBy(id, hint) {
  return [hint ? `${id}-hint` : null, `${id}-err`].filter(Boolean).join(' ');
}

function field(key, ps, obj, required, path, o, rerender) {
  const kind = kindOf(ps);
  if (kind === 'steps') return null;
  const id = idFrom(o.idPrefix, path);
  const hint = hintFor(key, ps ?? {}, kind);
  const set = (v) => {
    if (v === undefined) delete obj[key];
    else obj[key] = v;
    o.onChange(path);
  };
  const common = {
    id,
    disabled: o.readOnly,
    dataset: { path },
    aria: { describedby: describedBy(id, hint), required: required ? 'true' : undefined },
  };

  switch (kind) {
    case 'string': {
      const picks = o.suggest?.(key, kind);
      if (picks?.select) {
        const known = picks.options.some((c) => c.value === obj[key]);
        const select = h(
          'select',
          { ...common, onchange: (e) => set(e.target.value === '' ? undefined : e.target.value) },
          h('option', { value: '' }, '(not set)'),
          picks.options.map((c) => h('option', { value: c.value, selected: obj[key] === c.value }, c.label ?? c.value)),
          obj[key] !== undefined && !known ? h('option', { value: String(obj[key]), selected: true }, `${obj[key]} (unknown)`) : null,
        );
        if (obj[key] === undefined) select.value = '';
        return wrap(path, kind, labelFor(id, key, required), select, hintEl(id, hint), errorSlot(id));
      }
      const long = /message|body|description/i.test(key);
      const input = h(long ? 'textarea' : 'input', {
        ...common,
        type: long ? undefined : 'text',
        rows: long ? 3 : undefined,
        value: obj[key] ?? '',
        spellcheck: long ? 'true' : 'false',
        oninput: (e) => set(e.target.value === '' ? undefined : e.target.value),
      });
      return wrap(path, kind, labelFor(id, key, required), input, suggestions(input, id, picks), hintEl(id, hint), errorSlot(id));
    }
    case 'number': {
      const input = h('input', {
        ...common,
        type: 'number',
        inputmode: ps.type === 'integer' ? 'numeric' : 'decimal',
        step: ps.type === 'integer' ? '1' : 'any',
        min: ps.minimum,
        max: ps.maximum !== undefined && ps.maximum < 1e15 ? ps.maximum : undefined,
        value: obj[key] ?? '',
        oninput: (e) => {
          if (e.target.value === '') return set(undefined);
          const n = Number(e.target.value);
          if (Number.isFinite(n)) set(n);
        },
      });
      return wrap(path, kind, labelFor(id, key, required), input, hintEl(id, hint), errorSlot(id));
    }
    case 'boolean': {
      const input = h('input', {
        ...common,
        type: 'checkbox',
        checked: obj[key] === true,
        onchange: (e) => set(e.target.checked ? true : required ? false : undefined),
      });
      return wrap(path, kind, h('div', { class: 'check' }, input, labelFor(id, key, required)), hintEl(id, hint), errorSlot(id));
    }
    case 'enum': {
      const select = h(
        'select',
        { ...common, onchange: (e) => set(e.target.value === '' ? undefined : ps.enum.find((v) => String(v) === e.target.value)) },
        required ? null : h('option', { value: '' }, '(not set)'),
        ps.enum.map((v) => h('option', { value: String(v), selected: obj[key] === v }, String(v))),
      );
      if (obj[key] === undefined && !required) select.value = '';
      return wrap(path, kind, labelFor(id, key, required), select, hintEl(id, hint), errorSlot(id));
    }
    case 'strings': {
      const input = h('input', {
        ...common,
        type: 'text',
        value: Array.isArray(obj[key]) ? obj[key].join(', ') : '',
        spellcheck: 'false',
        oninput: (e) => {
          const list = splitList(e.target.value);
          set(list.length ? list : undefined);
        },
      });
      return wrap(
        path,
        kind,
        labelFor(id, key, required),
        input,
        suggestions(input, id, o.suggest?.(key, kind)),
        hintEl(id, hint),
        errorSlot(id),
      );
    }
    case 'json': {
      const shown = h('span', { class: 'json-kind', id: `${id}-kind`, aria: { live: 'polite' } }, describeJson(obj[key]));
      const input = h('input', {
        ...common,
        type: 'text',
        value: showLenient(obj[key]),
        spellcheck: 'false',
        aria: { describedby: `${id}-kind ${describedBy(id, hint)}`, required: required ? 'true' : undefined },
        oninput: (e) => {
          const { value } = parseLenient(e.target.value);
          shown.textContent = describeJson(value);
          set(value);
        },
      });
      return wrap(
        path,
        kind,
        labelFor(id, key, required),
        input,
        h('p', { class: 'hint' }, 'Reads as: ', shown),
        hintEl(id, hint),
        errorSlot(id),
      );
    }
    case 'const':
      return wrap(path, kind, h('p', {}, humanize(key), ': ', h('code', {}, JSON.stringify(ps.const))));
    case 'union':
      return unionField(key, ps, obj, required, path, o, rerender, id, common, hint);
    case 'object': {
      const present = isObject(obj[key]);
      const structural = holdsSteps(ps);
      const legend = h('legend', {}, humanize(key), required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null);
      const parts = [legend];
      if (!required) {
        const toggleId = `${id}-set`;
        parts.push(
          h(
            'div',
            { class: 'check' },
            h('input', {
              id: toggleId,
              type: 'checkbox',
              checked: present,
              disabled: o.readOnly,
              dataset: { path },
              onchange: (e) => {
                if (e.target.checked) obj[key] = defaultsFor(ps);
                else delete obj[key];
                o.onChange(path);
                if (structural) o.onStructure(path);
                rerender();
              },
            }),
            h('label', { for: toggleId }, `Set ${humanize(key).toLowerCase()}`),
          ),
        );
      }
      if (present || required) {
        if (!present) obj[key] = defaultsFor(ps);
        parts.push(...objectFields(ps, obj[key], path, o, rerender));
      }
      parts.push(errorSlot(id));
      return h('fieldset', { class: 'field field-object', dataset: { path } }, ...parts);
    }
    case 'objects': {
      const items = Array.isArray(obj[key]) ? obj[key] : [];
      const singular = humanize(key.endsWith('s') ? key.slice(0, -1) : key);
      const structural = holdsSteps(ps.items);
      const after = () => {
        o.onChange(path);
        if (structural) o.onStructure(path);
        rerender();
      };
      const list = items.map((item, i) =>
        h(
          'fieldset',
          { class: 'field-item', dataset: { path: `${path}[${i}]` } },
          h('legend', {}, `${singular} ${i + 1}`),
          ...objectFields(ps.items, item, `${path}[${i}]`, o, rerender),
          o.readOnly
            ? null
            : h(
                'button',
                {
                  type: 'button',
                  class: 'small',
                  id: `${id}-rm-${i}`,
                  onclick: () => {
                    items.splice(i, 1);
                    if (!items.length && !required) delete obj[key];
                    after();
                  },
                },
                `Remove ${singular.toLowerCase()} ${i + 1}`,
              ),
          errorSlot(`${id}-${i}`),
        ),
      );
      const add = o.readOnly
        ? null
        : h(
            'button',
            {
              type: 'button',
              class: 'small',
              id: `${id}-add`,
              onclick: () => {
                if (!Array.isArray(obj[key])) obj[key] = [];
                obj[key].push(defaultsFor(ps.items));
                after();
              },
            },
            `Add ${singular.toLowerCase()}`,
          );
      return h(
        'fieldset',
        { class: 'field field-objects', dataset: { path } },
        h('legend', {}, humanize(key), required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null),
        ...list,
        add,
        errorSlot(id),
      );
    }
    default:
      return null;
  }
}

/** anyOf: a select of the alternatives (enum values and consts listed one by one), then the chosen one's input. */
function unionField(key, ps, obj, required, path, o, rerender, id, common, hint) {
  const choices = [];
  for (const alt of ps.anyOf ?? ps.oneOf ?? []) {
    if (Array.isArray(alt.enum)) for (const v of alt.enum) choices.push({ label: String(v), kind: 'const', value: v });
    else if ('const' in alt) choices.push({ label: String(alt.const), kind: 'const', value: alt.const });
    else if (alt.type === 'object')
      choices.push({
        label: `${
          Object.keys(alt.properties ?? {})
            .map(humanize)
            .join(', ')
            .toLowerCase() || 'object'
        }…`,
        kind: 'object',
        schema: alt,
      });
    else choices.push({ label: `${alt.type ?? 'value'}…`, kind: 'scalar', schema: alt });
  }
  const current = obj[key];
  let chosen = -1;
  if (current !== undefined) {
    chosen = choices.findIndex((c) => c.kind === 'const' && c.value === current);
    if (chosen < 0)
      chosen = choices.findIndex((c) =>
        c.kind === 'object'
          ? isObject(current)
          : c.kind === 'scalar' && typeof current === (c.schema.type === 'integer' ? 'number' : c.schema.type),
      );
  }
  const select = h(
    'select',
    {
      ...common,
      onchange: (e) => {
        const c = choices[Number(e.target.value)];
        if (!c) delete obj[key];
        else if (c.kind === 'const') obj[key] = c.value;
        else if (c.kind === 'object') obj[key] = defaultsFor(c.schema);
        else delete obj[key];
        o.onChange(path);
        rerender();
      },
    },
    required && current !== undefined ? null : h('option', { value: '' }, required ? '(choose)' : '(not set)'),
    choices.map((c, i) => h('option', { value: String(i), selected: i === chosen }, c.label)),
  );
  if (chosen < 0) select.value = '';
  const parts = [labelFor(id, key, required), select, hintEl(id, hint)];
  const c = choices[chosen];
  if (c?.kind === 'object') parts.push(h('div', { class: 'union-detail' }, ...objectFields(c.schema, obj[key], path, o, rerender)));
  if (c?.kind === 'scalar') {
    const inner = { type: 'object', properties: { [key]: c.schema }, required: [key] };
    parts.push(
      h(
        'div',
        { class: 'union-detail' },
        ...objectFields(inner, obj, path.slice(0, path.length - key.length - 1), { ...o, idPrefix: `${o.idPrefix}v` }, rerender),
      ),
    );
  }
  parts.push(errorSlot(id));
  return wrap(path, 'union', ...parts);
}

/** Shows issues (with `rel` paths relative to the form's object) next to their fields; returns the ones no field took. */
export function showErrors(root, issues) {
  for (const el of root.querySelectorAll('.field-error')) {
    el.hidden = true;
    el.textContent = '';
  }
  for (const el of root.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const left = [];
  const fields = [...root.querySelectorAll('.field[data-path], .field-item[data-path]')];
  for (const issue of issues) {
    // the deepest field whose path prefixes the issue's path
    let best = null;
    for (const f of fields) {
      const p = f.dataset.path;
      if (
        (issue.rel === p || issue.rel.startsWith(`${p}.`) || issue.rel.startsWith(`${p}[`)) &&
        (!best || p.length > best.dataset.path.length)
      )
        best = f;
    }
    const slot = best && [...best.querySelectorAll('.field-error')].pop();
    if (!slot) {
      left.push(issue);
      continue;
    }
    slot.hidden = false;
    slot.textContent = slot.textContent ? `${slot.textContent}; ${issue.message}` : issue.message;
    const control = best.querySelector(`[data-path="${CSS.escape(best.dataset.path)}"]:is(input, select, textarea)`);
    control?.setAttribute('aria-invalid', 'true');
  }
  return left;
}
