/**
 * BullMQ retries a failed fetch of the next job at once unless the error is a connection error,
 * so a Redis that answers but refuses (READONLY after a failover, MOVED from a cluster node,
 * OOM, an ACL change) turns a worker into a busy loop of failing commands. This pauses the
 * worker for a growing while (1 s doubling to 30 s) on such errors, and resumes it to try again.
 */
import type { Worker } from 'bullmq';
import { errorKind } from '../observability/throttle.ts';

const REFUSALS = new Set([
  'READONLY',
  'MOVED',
  'ASK',
  'CROSSSLOT',
  'CLUSTERDOWN',
  'TRYAGAIN',
  'MASTERDOWN',
  'LOADING',
  'NOAUTH',
  'WRONGPASS',
  'NOPERM',
  'OOM',
  'MISCONF',
  'BUSY',
  'NOSCRIPT',
]);
const FIRST_PAUSE_MS = 1_000;
const MAX_PAUSE_MS = 30_000;
/** A refusal this long after the previous one starts the backoff over. */
const CALM_MS = 60_000;

export function isServerRefusal(err: unknown): boolean {
  return REFUSALS.has(errorKind(err));
}

export interface RefusalBackoff {
  /** Call with every worker 'error'; returns true when it paused the worker. */
  onError(err: unknown): boolean;
  /** Stop resuming (the worker is closing). */
  stop(): void;
  readonly pausedFor: number;
}

export function refusalBackoff(worker: Pick<Worker, 'pause' | 'resume'>, now: () => number = Date.now): RefusalBackoff {
  let pauseMs = 0;
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  return {
    onError(err) {
      if (stopped || !isServerRefusal(err) || timer) return false;
      const t = now();
      pauseMs = t - last > CALM_MS ? FIRST_PAUSE_MS : Math.min(MAX_PAUSE_MS, Math.max(FIRST_PAUSE_MS, pauseMs * 2));
      last = t;
      void worker.pause(true).catch(() => undefined);
      timer = setTimeout(() => {
        timer = undefined;
        if (!stopped) void worker.resume();
      }, pauseMs);
      timer.unref();
      return true;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
    },
    get pausedFor() {
      return pauseMs;
    },
  };
}
