/**
 * Bounded logging of repeated failures. A Redis that refuses every command (a read-only replica
 * after a failover, a cluster node, a wrong password) makes BullMQ emit an error per poll, many
 * thousand a second: each kind of failure is logged the first time, then at most once per
 * interval with the number of lines left out since the last one.
 */
import type { Logger } from 'pino';

export const DEFAULT_THROTTLE_MS = 30_000;

export interface Throttle {
  /** Whether to log this occurrence of `key` now, and how many were left out since the last logged one. */
  hit(key: string): { log: boolean; suppressed: number };
  /** Forget `key` (the failure is over), so its next occurrence is logged at once. */
  reset(key?: string): void;
}

export function createThrottle(intervalMs = DEFAULT_THROTTLE_MS, now: () => number = Date.now): Throttle {
  const seen = new Map<string, { at: number; suppressed: number }>();
  return {
    hit(key) {
      const t = now();
      const s = seen.get(key);
      if (!s || t - s.at >= intervalMs) {
        seen.set(key, { at: t, suppressed: 0 });
        return { log: true, suppressed: s?.suppressed ?? 0 };
      }
      s.suppressed += 1;
      return { log: false, suppressed: s.suppressed };
    },
    reset(key) {
      if (key === undefined) seen.clear();
      else seen.delete(key);
    },
  };
}

/**
 * The kind of an error, for throttling: its code (ECONNREFUSED), or the Redis error prefix
 * (READONLY, MOVED, CROSSSLOT, NOAUTH, WRONGPASS, CLUSTERDOWN…), else its message without
 * numbers (so "could not renew lock for job 17" and "… job 18" are one kind).
 */
export function errorKind(err: unknown): string {
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code) return code;
  }
  const msg = err instanceof Error ? err.message : String(err);
  const prefix = /^([A-Z][A-Z_]{2,})\b/.exec(msg);
  if (prefix) return prefix[1]!;
  return msg.replace(/\d+/g, '#').slice(0, 120);
}

export type ThrottledLog = (err: unknown, extra?: Record<string, unknown>) => void;

/**
 * A logger for one repeated failure site (`msg`), throttled per error kind. Lines carry
 * `suppressed` (how many like it were left out since the previous line) and `kind`.
 */
export function throttledLog(log: Logger, level: 'error' | 'warn', msg: string, throttle: Throttle = createThrottle()): ThrottledLog {
  return (err, extra = {}) => {
    const kind = errorKind(err);
    const { log: now, suppressed } = throttle.hit(`${msg}\u0000${kind}`);
    if (!now) return;
    log[level]({ ...extra, err, kind, suppressed }, msg);
  };
}
