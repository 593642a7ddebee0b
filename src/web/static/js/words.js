// Words for people on the run pages: short run ids, relative times, the intent of an answer
// option, and one sentence per history event.
import { formatDuration, formatTime } from './dom.js';

/** "01JH8…K3ZQ": run ids share their time prefix, so the end tells them apart. */
export function shortId(id) {
  const s = String(id);
  return s.length > 14 ? `${s.slice(0, 6)}…${s.slice(-6)}` : s;
}

const UNITS = [
  ['year', 31_536_000],
  ['month', 2_592_000],
  ['day', 86_400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];
const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

export function relativeTime(iso, now = Date.now()) {
  const t = new Date(iso).getTime();
  if (!Number.isFinite(t)) return '';
  const sec = Math.round((t - now) / 1000);
  if (Math.abs(sec) < 10) return 'just now';
  for (const [unit, size] of UNITS) if (Math.abs(sec) >= size || unit === 'second') return rtf.format(Math.round(sec / size), unit);
  return formatTime(iso);
}

/** The button class of an answer option: the first is the primary one, refusals are danger. */
export function optionClass(option, index) {
  if (/^(reject|rejected|deny|denied|decline|declined|refuse|no|cancel|abort)$/i.test(option.trim())) return 'danger';
  return index === 0 ? 'primary' : '';
}

const q = (s) => `“${s}”`;

/** One sentence for a history event; the rest goes in the folded detail. */
export function describeEvent(ev, stepName = (id) => id) {
  const d = ev.detail && typeof ev.detail === 'object' ? ev.detail : {};
  const step = ev.stepId ? `Step ${q(stepName(ev.stepId))}` : 'A step';
  const by = ev.by ? ` by ${ev.by}` : '';
  const attempt = ev.attempt && ev.attempt > 1 ? ` (attempt ${ev.attempt})` : '';
  const took = typeof ev.durationMs === 'number' ? ` in ${formatDuration(ev.durationMs)}` : '';
  switch (ev.type) {
    case 'run.started':
      return `Run started${by}`;
    case 'run.completed':
      return `Run completed${d.outcome ? `: ${d.outcome}` : ''}`;
    case 'run.failed':
      return `Run failed${d.error?.message ? `: ${d.error.message}` : d.message ? `: ${d.message}` : ''}`;
    case 'run.cancelled':
      return `Run cancelled${by}`;
    case 'run.waiting':
      return d.reason === 'confirmation' ? 'Waiting for a confirmation' : d.reason === 'child' ? 'Waiting for a child run' : 'Waiting';
    case 'run.retried':
      return `Retried${by}${d.fromStepId ? ` from step ${q(stepName(d.fromStepId))}` : ''}${d.modelPatched ? ', model patched' : ''}`;
    case 'run.submitted':
      return `Draft submitted${by}`;
    case 'run.reset':
      return `Sent back to draft${ev.stepId ? ` at step ${q(stepName(ev.stepId))}` : ''}`;
    case 'step.started':
      return `${step} started${attempt}`;
    case 'step.completed':
      return `${step} done${took}`;
    case 'step.failed':
      return `${step} failed${attempt}${d.error?.message ? `: ${d.error.message}` : ''}`;
    case 'step.retrying':
      return `${step} failed${attempt}, will retry${d.error?.message ? `: ${d.error.message}` : ''}`;
    case 'confirmation.answered':
      return `Answered ${q(d.option ?? '?')}${by}${d.comment ? `: ${d.comment}` : ''}`;
    case 'confirmation.reminded':
      return `Reminder sent${Array.isArray(d.recipients) ? ` to ${d.recipients.join(', ')}` : ''}`;
    case 'child.ended':
      return `Child run ended${d.status ? `: ${d.status}` : ''}`;
    default:
      return `${ev.type}${ev.stepId ? ` (${stepName(ev.stepId)})` : ''}${by}`;
  }
}
