/**
 * Status changes published by the Lua transitions, fanned out in this process to whoever waits
 * on a run (`?wait=MS`, live pages). Only for waiting and display: never for orchestration.
 */
import type { RedisClient as Redis } from './redis.ts';
import type { RunStatus } from './types.ts';

type Listener = (status: RunStatus) => void;

export class RunEvents {
  private readonly listeners = new Map<string, Set<Listener>>();
  private ready: Promise<unknown>;

  constructor(
    private readonly sub: Redis,
    channel: string,
  ) {
    this.ready = sub.subscribe(channel);
    sub.on('message', (_ch: string, msg: string) => {
      const [runId = '', status] = msg.split(' ');
      for (const l of this.listeners.get(runId) ?? []) l(status as RunStatus);
    });
  }

  async listen(runId: string, listener: Listener): Promise<() => void> {
    await this.ready;
    let set = this.listeners.get(runId);
    if (!set) this.listeners.set(runId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(runId);
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.sub.disconnect();
  }
}
