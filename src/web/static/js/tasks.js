// /tasks: confirmations waiting for the caller; one button per option and an optional comment.
import { api, ApiError, enc, get } from './api.js';
import { formatTime, h, message, pretty, replace } from './dom.js';
import { optionClass } from './words.js';

const POLL_MS = 3000;

export async function mount(main) {
  const status = h('div', { id: 'tasks-status', aria: { live: 'polite' } });
  const list = h('div', { class: 'task-list', id: 'task-list' });
  const empty = h('p', { class: 'muted', id: 'no-tasks', hidden: true }, 'Nothing is waiting for you.');
  const cards = new Map();
  let timer;

  async function load() {
    clearTimeout(timer);
    try {
      const { items } = await get('/api/tasks');
      const keys = new Set(items.map((t) => `${t.runId}|${t.seq}`));
      for (const [key, el] of cards)
        if (!keys.has(key)) {
          el.remove();
          cards.delete(key);
        }
      for (const t of items) {
        const key = `${t.runId}|${t.seq}`;
        if (!cards.has(key)) {
          const el = taskCard(t, answered);
          cards.set(key, el);
          list.append(el);
        }
      }
      empty.hidden = cards.size > 0;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // signed out: the sign-in form took over
      replace(status, message('error', `Could not load tasks: ${err.message}`));
    }
    timer = setTimeout(load, POLL_MS);
  }

  function answered(task, option, result) {
    replace(
      status,
      message(
        'ok',
        `Answered “${option}” for ${task.workflow} / ${task.stepName}. `,
        result.resolved ? 'The run moves on. ' : 'Your answer is recorded; the step waits for more answers. ',
        h('a', { href: `/runs/${enc(task.runId)}` }, 'Open the run'),
      ),
    );
    load();
  }

  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Tasks'), h('button', { type: 'button', id: 'refresh-tasks', onclick: load }, 'Refresh')),
    h('p', { class: 'muted' }, 'Confirmations routed to you that are still open.'),
    status,
    empty,
    list,
  );
  await load();
}

function taskCard(t, answered) {
  const base = `task-${t.runId}-${t.seq}`;
  const comment = h('textarea', { id: `${base}-comment`, rows: 2, maxlength: 4000 });
  const note = h('div', { aria: { live: 'polite' } });
  const buttons = t.options.map((option, i) =>
    h(
      'button',
      {
        type: 'button',
        class: ['option', optionClass(option, i)],
        dataset: { option },
        onclick: async () => {
          for (const b of buttons) b.disabled = true;
          replace(note, message('info', 'Sending…'));
          try {
            const body = { option, ...(comment.value.trim() ? { comment: comment.value.trim() } : {}) };
            const res = await api('POST', `/api/runs/${enc(t.runId)}/confirm`, body);
            answered(t, option, res.body);
          } catch (err) {
            const why =
              err instanceof ApiError
                ? err.status === 409
                  ? `This confirmation is no longer open (${err.message}).`
                  : err.status === 403
                    ? `You may not answer it: ${err.message}`
                    : err.describe()
                : err.message;
            replace(note, message('error', why));
            for (const b of buttons) b.disabled = false;
          }
        },
      },
      option,
    ),
  );
  const headingId = `${base}-h`;
  return h(
    'article',
    { class: 'task card-panel', dataset: { runId: t.runId }, aria: { labelledby: headingId } },
    h('h2', { id: headingId }, `${t.workflow} · ${t.stepName}`),
    h(
      'p',
      { class: 'muted' },
      'Run ',
      h('a', { href: `/runs/${enc(t.runId)}` }, h('code', {}, t.runId)),
      ` · waiting since ${formatTime(t.createdAt)}`,
      t.timeoutAt ? ` · times out ${formatTime(t.timeoutAt)}` : '',
      t.policy && t.policy !== 'any' ? ` · policy ${typeof t.policy === 'object' ? `quorum ${t.policy.quorum}` : t.policy}` : '',
    ),
    h('details', {}, h('summary', {}, 'Model'), h('pre', { class: 'json', tabindex: '0' }, pretty(t.model))),
    h('div', { class: 'field' }, h('label', { for: `${base}-comment` }, 'Comment (optional)'), comment),
    h('div', { class: 'button-row', role: 'group', aria: { label: 'Answer' } }, buttons),
    note,
  );
}
