/**
 * A per-process cache's link to the other processes: a Redis pub/sub channel on its own
 * connection. A cache may answer from memory only while `live` (subscribed); while the
 * subscriber is down or not yet subscribed it must read Redis, and every (re)subscription calls
 * `onReset` (live again once it has resolved) because messages sent meanwhile are lost. `epoch` changes on every message and
 * reset, so a read that started before one can tell its answer may be stale and not cache it.
 */
import { duplicateClient, isCluster, type RedisClient } from './redis.ts';

export class Invalidation {
  private sub?: RedisClient;
  private liveNow = false;
  private epochNow = 0;
  private closed = false;

  constructor(
    private readonly redis: RedisClient,
    readonly channel: string,
    private readonly onMessage: (msg: string) => void,
    private readonly onReset: () => void | Promise<void>,
  ) {}

  get live(): boolean {
    if (!this.sub && !this.closed) this.open();
    return this.liveNow;
  }

  get epoch(): number {
    return this.epochNow;
  }

  /**
   * Tells every process (this one included, synchronously). A Redis server writes a message to its
   * own subscribers before it answers PUBLISH, which is what makes "after the save was answered"
   * hold; a cluster forwards it to the other nodes' subscribers later, over its bus, so there it is
   * published on every node (each subscriber then hears it a few times, which an invalidation
   * does not mind). Found by start-path-cache.test.ts on the cluster: another process started v6
   * right after v7 was saved.
   */
  async publish(msg: string): Promise<void> {
    this.deliver(msg);
    const redis = this.redis;
    if (isCluster(redis)) await Promise.all(redis.nodes('all').map((node) => node.publish(this.channel, msg)));
    else await redis.publish(this.channel, msg);
  }

  close(): void {
    this.closed = true;
    this.liveNow = false;
    this.sub?.disconnect();
  }

  private deliver(msg: string): void {
    this.epochNow++;
    this.onMessage(msg);
  }

  /** Lazily, so a process that never reads the cache holds no extra connection. */
  private open(): void {
    const sub = duplicateClient(this.redis, { enableOfflineQueue: true, maxRetriesPerRequest: null, lazyConnect: false });
    this.sub = sub;
    const down = () => {
      this.liveNow = false;
      this.epochNow++;
    };
    sub.on('error', () => undefined);
    sub.on('close', down);
    sub.on('ready', () => {
      sub
        .subscribe(this.channel)
        .then(async () => {
          this.epochNow++;
          await this.onReset();
          if (!this.closed) this.liveNow = true;
        })
        .catch(down);
    });
    sub.on('message', (ch: string, msg: string) => {
      if (ch === this.channel) this.deliver(msg);
    });
    // The main connection's end is the engine closing: the subscriber goes with it.
    this.redis.once('end', () => this.close());
  }
}
