/**
 * Waiting for a BullMQ worker to close, within a bound. BullMQ's close() waits for every active
 * job and, in an outage, on Redis itself; with nothing held there is nothing to drain.
 * Resolves 'closed' when close() finished, 'idle' when no job has been held for a second, or
 * 'timeout' at the bound.
 */
const IDLE_CLOSE_MS = 1_000;

export async function drain(closing: Promise<unknown>, timeoutMs: number, held: () => number): Promise<'closed' | 'timeout' | 'idle'> {
  let done = false;
  closing.then(
    () => (done = true),
    () => (done = true),
  );
  const t0 = Date.now();
  for (;;) {
    if (done) return 'closed';
    const elapsed = Date.now() - t0;
    if (elapsed >= timeoutMs) return 'timeout';
    if (elapsed >= Math.min(IDLE_CLOSE_MS, timeoutMs) && held() === 0) return 'idle';
    await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, timeoutMs - elapsed))));
  }
}
