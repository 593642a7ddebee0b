// Tiny DOM helpers: elements are built with h(), never from HTML strings, so data is never markup.

/**
 * h('button', {class: 'x', onclick: fn, disabled: true, dataset: {a: 1}, aria: {label: 'y'}}, 'text', child)
 * Attribute values of null/undefined/false are left out; `true` sets a boolean attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'aria')
      for (const [k, v] of Object.entries(value)) {
        if (v !== undefined && v !== null && v !== false) el.setAttribute(`aria-${k}`, String(v));
      }
    else if (key === 'value' && 'value' in el) el.value = value;
    else if (key === 'checked' || key === 'selected' || key === 'indeterminate') el[key] = Boolean(value);
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Runs a redraw that may replace the focused control, then focuses its replacement (same id) with
 * the caret where it was, so keystrokes typed while data arrives land in the field, not the page.
 */
export function keepingFocus(redraw) {
  const was = document.activeElement;
  const caret = was && typeof was.selectionStart === 'number' ? [was.selectionStart, was.selectionEnd, was.selectionDirection] : null;
  redraw();
  if (!was?.id || was.isConnected) return;
  const next = document.getElementById(was.id);
  if (!next) return;
  next.focus();
  if (caret && typeof next.selectionStart === 'number') next.setSelectionRange(...caret);
}

let idCounter = 0;
/** A unique element id with a readable prefix. */
export const uid = (prefix = 'id') => `${prefix}-${++idCounter}`;

/** `updateModelField` → "Update model field". */
export function humanize(key) {
  const words = String(key)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function formatDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  if (m < 60) return `${m} min ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A modal yes/no question on a <dialog>; resolves true when confirmed. Esc or Cancel resolve false. */
export function confirmDialog({ title, message, confirmLabel = 'OK', danger = false }) {
  return new Promise((resolve) => {
    const titleId = uid('dlg-title');
    const ok = h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : 'primary' }, confirmLabel);
    const cancel = h('button', { type: 'submit', value: 'cancel' }, 'Cancel');
    const dialog = h(
      'dialog',
      { class: 'dialog', aria: { labelledby: titleId } },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: titleId }, title),
        h('p', {}, message),
        h('div', { class: 'dialog-buttons' }, cancel, ok),
      ),
    );
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'ok');
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** A live region message: kind is 'info' | 'ok' | 'error'. */
export function message(kind, ...children) {
  return h('p', { class: ['msg', `msg-${kind}`], role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}
