// /builder: the workflows the caller may see, and a way to start a new one.
import { get, enc } from './api.js';
import { formatTime, h, message } from './dom.js';

export async function mount(main, ctx) {
  if (ctx.query.has('new')) return (await import('./builder.js')).mount(main, { ...ctx, params: [] });
  const { principal } = ctx;
  main.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Workflows'),
      principal.designer ? h('a', { class: 'button primary', href: '/builder?new=1' }, 'New workflow') : null,
    ),
  );
  let items;
  try {
    items = (await get('/api/workflows')).items;
  } catch (err) {
    main.append(message('error', `Could not load the workflows: ${err.message}`));
    return;
  }
  if (!items.length) {
    main.append(
      h(
        'p',
        { class: 'muted' },
        principal.designer ? 'No workflows yet. Start one with “New workflow”.' : 'There are no workflows you may see.',
      ),
    );
    return;
  }
  main.append(
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'list', id: 'workflow-list' },
        h('caption', { class: 'visually-hidden' }, 'Workflows'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Name'),
            h('th', { scope: 'col' }, 'Title'),
            h('th', { scope: 'col' }, 'Version'),
            h('th', { scope: 'col' }, 'Saved'),
            h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Links')),
          ),
        ),
        h(
          'tbody',
          {},
          items.map((w) =>
            h(
              'tr',
              { dataset: { workflow: w.name } },
              h('td', {}, h('a', { href: `/builder/${enc(w.name)}` }, w.name)),
              h('td', {}, w.title ?? ''),
              h('td', {}, `v${w.latest}`),
              h('td', {}, formatTime(w.updatedAt)),
              h(
                'td',
                {},
                h('a', { href: `/runs?workflow=${enc(w.name)}` }, 'Runs', h('span', { class: 'visually-hidden' }, ` of ${w.name}`)),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
