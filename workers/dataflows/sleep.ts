/**
 * Example `module` dataflow: `{ms}` → waits `ms` milliseconds, then returns `{slept: ms}`.
 * Stops at once when the step times out or the worker shuts down (the signal aborts).
 */
import type { ModuleCallContext } from '../../src/dataflows/module.ts';
import { NonRetryableError } from '../../src/steps/types.ts';

export default async function sleep(input: unknown, { signal }: ModuleCallContext): Promise<{ slept: number }> {
  const ms = (input as { ms?: unknown } | null)?.ms;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
    throw new NonRetryableError('sleep needs an input {ms: <non-negative number>}');
  signal.throwIfAborted();
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error('sleep aborted'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return { slept: ms };
}
