// Entry point of every page: signs in when needed, then mounts the page named by the path.
import { clearKey, getKey, get, setKey, whenUnauthorized, me } from './api.js';
import { h, message, replace } from './dom.js';
import { installGuard } from './guard.js';

const main = document.getElementById('main');
const session = document.getElementById('session');

const routes = [
  { re: /^\/builder\/?$/, nav: 'builder', load: () => import('./builder-list.js'), title: 'Workflows' },
  { re: /^\/builder\/([^/]+)\/?$/, nav: 'builder', load: () => import('./builder.js'), title: 'Builder' },
  { re: /^\/runs\/?$/, nav: 'runs', load: () => import('./runs.js'), title: 'Runs' },
  { re: /^\/runs\/([^/]+)\/?$/, nav: 'runs', load: () => import('./run.js'), title: 'Run' },
  { re: /^\/tasks\/?$/, nav: 'tasks', load: () => import('./tasks.js'), title: 'Tasks' },
  { re: /^\/dataflows\/?$/, nav: 'dataflows', load: () => import('./dataflows.js'), title: 'Dataflows' },
  { re: /^\/templates\/?$/, nav: 'templates', load: () => import('./templates.js'), title: 'Templates' },
];

function routeOf(pathname) {
  for (const r of routes) {
    const m = r.re.exec(pathname);
    if (m) return { ...r, params: m.slice(1).map(decodeURIComponent) };
  }
  return null;
}

function markNav(nav) {
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function renderSession(principal) {
  if (!principal) return replace(session);
  replace(
    session,
    h(
      'span',
      { class: 'who' },
      'Signed in as ',
      h('strong', {}, principal.name ?? principal.id),
      principal.roles.length ? h('span', { class: 'muted' }, ` (${principal.roles.join(', ')})`) : null,
    ),
    h('button', { type: 'button', class: 'link-button', onclick: signOut }, 'Sign out'),
  );
}

function signOut() {
  clearKey();
  location.assign(location.pathname === '/signin' ? '/runs' : location.pathname + location.search);
}

function showSignIn(note) {
  renderSession(null);
  document.title = 'Sign in · stageflow';
  const input = h('input', {
    id: 'signin-key',
    name: 'key',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    spellcheck: 'false',
  });
  const status = h('div', { aria: { live: 'polite' } }, note ? message('error', note) : null);
  const form = h(
    'form',
    {
      class: 'signin card-panel',
      onsubmit: async (e) => {
        e.preventDefault();
        const key = input.value.trim();
        if (!key) return;
        replace(status, message('info', 'Checking the key…'));
        try {
          await get('/api/me', { key });
          setKey(key);
          location.reload();
        } catch (err) {
          replace(status, message('error', err.status === 401 ? 'That key is not valid.' : `Could not sign in: ${err.message}`));
          input.focus();
        }
      },
    },
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Enter your stageflow API key. It is kept in this browser tab only (session storage) and sent as a bearer token.'),
    h('label', { for: 'signin-key' }, 'API key'),
    input,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    status,
  );
  replace(main, form);
  input.focus();
}

async function start() {
  installGuard();
  whenUnauthorized(() => showSignIn('Your key was refused; sign in again.'));
  const route = routeOf(location.pathname);
  markNav(route?.nav);
  if (!getKey()) return showSignIn();
  let principal;
  try {
    principal = await me();
  } catch (err) {
    if (err.status === 401) return; // whenUnauthorized showed the sign-in form
    replace(main, message('error', `The API is not reachable: ${err.message}`));
    return;
  }
  renderSession(principal);
  if (location.pathname === '/signin' || !route) {
    if (location.pathname === '/signin') return location.replace('/runs');
    replace(main, h('h1', {}, 'Not found'), h('p', {}, 'There is no page here. ', h('a', { href: '/runs' }, 'Go to runs')));
    return;
  }
  document.title = `${route.title} · stageflow`;
  const mod = await route.load();
  replace(main);
  await mod.mount(main, { params: route.params, principal, query: new URLSearchParams(location.search) });
}

start().catch((err) => {
  replace(main, message('error', `Something went wrong: ${err?.message ?? err}`));
});
