// The unsaved-changes guard: a page registers a check; reloading or closing the tab asks the
// browser's question, and following a link inside the app asks ours first.
import { confirmDialog } from './dom.js';

let check = null;
let leaving = false;

/** `fn()` returns a sentence about what would be lost, or '' when nothing would; null removes it. */
export function setGuard(fn) {
  check = fn;
}

const pending = () => (!leaving && check ? check() : '');

/** Navigates to `href` unless the user prefers to stay. */
export async function leaveTo(href) {
  const what = pending();
  if (what) {
    const ok = await confirmDialog({
      title: 'Leave without saving?',
      message: `${what} Leaving this page discards them.`,
      confirmLabel: 'Leave without saving',
      danger: true,
    });
    if (!ok) return false;
  }
  leaving = true;
  location.assign(href);
  return true;
}

export function installGuard() {
  window.addEventListener('beforeunload', (e) => {
    if (!pending()) return;
    e.preventDefault();
    e.returnValue = '';
  });
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target instanceof Element ? e.target.closest('a[href]') : null;
    if (!a || a.target === '_blank' || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || (url.pathname === location.pathname && url.search === location.search && url.hash)) return;
    if (!pending()) return;
    e.preventDefault();
    leaveTo(url.href);
  });
}
