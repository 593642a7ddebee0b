/**
 * Acknowledge only what a replica holds. Redis replication is asynchronous: a primary that is
 * SIGKILLed right after answering loses that write, and its promoted replica never saw it. `WAIT`
 * blocks until N replicas have everything *this connection* wrote, so an answer given after it
 * survives a failover.
 *
 * WAIT counts the writes of the connection it is sent on (the client's last write offset), so it
 * goes over a connection that wrote after the write to acknowledge: the Acknowledger's own, which
 * writes a marker in the same slot first (the primary's replication stream is ordered, so the
 * marker's offset covers every earlier write). For a single Redis that is the client itself, for
 * a Cluster the connection ioredis keeps to the primary of the key's slot. A keyless WAIT sent
 * through the Cluster would land on an arbitrary node.
 */
import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';
import { parseInfo } from './redis-checks.ts';
import { EngineError } from './errors.ts';
import { duplicateClient, isCluster, type RedisClient, waitUntilReady } from './redis.ts';

/**
 * The write was applied on the primary but fewer replicas than required confirmed it in time.
 * Unavailable (503): the caller may retry; with the same idempotency key the retry returns the
 * same result, so nothing is done twice and nothing acknowledged is lost.
 */
export class NotReplicatedError extends EngineError {
  override name = 'NotReplicatedError';
  constructor(
    readonly key: string,
    readonly wanted: number,
    readonly got: number,
    readonly timeoutMs: number,
  ) {
    super('unavailable', `only ${got} of ${wanted} Redis replica(s) confirmed the write within ${timeoutMs} ms; retry`);
  }
}

/** The marker could not be written on the node this connection thought was the primary (its slot moved). */
export class MarkerRefusedError extends NotReplicatedError {
  override name = 'MarkerRefusedError';
}

/** The connection to the primary serving `key`'s slot, as the Cluster's slot table knows it. */
export function primaryFor(cluster: Cluster, key: string): Redis {
  const slot = calculateSlot(key);
  const owner = cluster.slots[slot]?.[0];
  const node = owner === undefined ? undefined : cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (!node) throw new EngineError('unavailable', `no Redis Cluster primary known for slot ${slot} (cluster ${cluster.status})`);
  return node;
}

/** Writers waiting for the next WAIT on one connection, each with the key it wrote. */
interface Batch {
  /** The key the WAIT's connection writes first (the first waiter's marker), if any. */
  marker: string | undefined;
  waiters: Array<{ key: string; resolve(got: number): void; reject(err: unknown): void }>;
}

/** Per connection and WAIT setting: whether a WAIT is out, and who waits for the next one. */
interface Round {
  inFlight: boolean;
  next: Batch | undefined;
}

const rounds = new WeakMap<Redis, Map<string, Round>>();

/**
 * Resolves with the number of replicas that hold every write this client made to `key`'s
 * primary (at least `replicas`), or throws NotReplicatedError after `timeoutMs`. `replicas` 0
 * resolves at once without a round trip (a deployment without replicas).
 *
 * Group commit: a WAIT blocks its connection until it returns, so one WAIT per write would
 * line every acknowledged write of the process up behind the replica's round trip. Instead at
 * most one WAIT per connection is out; callers arriving meanwhile share the next one, sent when
 * it returns. Each caller's write was sent before it called, so before the WAIT it gets: that WAIT
 * covers it. A caller may therefore wait for up to two WAITs (twice `timeoutMs` at worst). With
 * a replica 1 ms away, 20 starts in flight went from 770 to 2,057 acknowledged starts/s (bench/acks.ts).
 *
 * `marker` (a key in `key`'s slot) lets the WAIT run on a connection of its own, so that it
 * blocks no reads: the WAIT's connection first writes the marker, which the primary applies
 * after every write that had already been answered on any connection, and replication is one
 * ordered stream per primary, so a replica that holds the marker holds those writes too.
 */
export async function confirmReplicated(
  client: RedisClient,
  key: string,
  replicas: number,
  timeoutMs: number,
  marker?: string,
): Promise<number> {
  if (replicas <= 0) return 0;
  const node = isCluster(client) ? primaryFor(client, key) : client;
  let bySetting = rounds.get(node);
  if (!bySetting) rounds.set(node, (bySetting = new Map()));
  const setting = `${replicas} ${timeoutMs}`;
  let round = bySetting.get(setting);
  if (!round) bySetting.set(setting, (round = { inFlight: false, next: undefined }));
  const r = round;
  const joined = new Promise<number>((resolve, reject) => {
    r.next ??= { marker, waiters: [] };
    r.next.waiters.push({ key, resolve, reject });
  });
  // The WAIT goes out after this turn of the event loop, so that the other writes whose replies
  // came in the same read join it rather than the one after.
  if (!r.inFlight) {
    r.inFlight = true;
    setImmediate(() => sendWait(node, r, replicas, timeoutMs));
  }
  return joined;
}

function sendWait(node: Redis, round: Round, replicas: number, timeoutMs: number): void {
  const batch = round.next as Batch;
  round.next = undefined;
  waitOnce(node, replicas, timeoutMs, batch.marker)
    .then(
      (got) => {
        for (const w of batch.waiters) {
          if (got < replicas) w.reject(new NotReplicatedError(w.key, replicas, got, timeoutMs));
          else w.resolve(got);
        }
      },
      (err: unknown) => {
        for (const w of batch.waiters) {
          if (err === UNCONFIRMED) w.reject(new NotReplicatedError(w.key, replicas, 0, timeoutMs));
          else if (err === MARKER_REFUSED) w.reject(new MarkerRefusedError(w.key, replicas, 0, timeoutMs));
          else w.reject(err);
        }
      },
    )
    .finally(() => {
      // Whoever joined while this WAIT was out gets the next one (inFlight stays set till then).
      if (round.next) setImmediate(() => sendWait(node, round, replicas, timeoutMs));
      else round.inFlight = false;
    });
}

const UNCONFIRMED = Symbol('unconfirmed');
const MARKER_REFUSED = Symbol('marker refused');
/** Markers expire: tags that come and go (a bulk operation's own) leave no key behind. */
const MARKER_TTL_MS = 60_000;

/** One WAIT (after the marker's write); UNCONFIRMED when it could not answer (the write is then just as unconfirmed). */
async function waitOnce(node: Redis, replicas: number, timeoutMs: number, marker: string | undefined): Promise<number> {
  try {
    // Pipelined on the same connection, so the WAIT counts the marker's write.
    const wrote =
      marker === undefined
        ? undefined
        : node.set(marker, '1', 'PX', MARKER_TTL_MS).then(
            () => true,
            () => false,
          );
    const waited = node.call('WAIT', String(replicas), String(timeoutMs));
    // A marker that could not be written (its slot moved mid-failover: MOVED) confirms nothing.
    if (wrote && !(await wrote)) {
      waited.catch(() => undefined);
      throw MARKER_REFUSED;
    }
    return Number(await waited);
  } catch (err) {
    // A command timeout shorter than the WAIT, or the primary going away mid-wait.
    if (err === MARKER_REFUSED) throw err;
    if (err === UNCONFIRMED || (err instanceof Error && /timed out|Connection is closed|ECONNRESET|EPIPE/i.test(err.message)))
      throw UNCONFIRMED;
    throw err;
  }
}

/**
 * The connection an engine's acknowledgements WAIT on, opened at the first one: with the marker
 * (confirmReplicated) the WAITs block only it, never the engine's own connection and its reads.
 */
export class Acknowledger {
  private client?: RedisClient;
  private ready?: Promise<void>;

  constructor(
    private readonly main: RedisClient,
    private readonly onError: (err: unknown) => void,
  ) {}

  /**
   * Resolves once `replicas` replicas hold every write answered so far on the primaries of
   * `keys` (one WAIT per primary, at once; on a single Redis one covers all), else throws
   * NotReplicatedError. `marker` names the key written before each WAIT (keyspace ackMarker).
   */
  async confirm(keys: string[], marker: (key: string) => string, replicas: number, timeoutMs: number): Promise<void> {
    const main = this.main;
    const perPrimary = isCluster(main) ? [...new Map(keys.map((k) => [primaryFor(main, k), k])).values()] : keys.slice(0, 1);
    const client = await this.connection(perPrimary[0] ?? '', replicas, timeoutMs);
    const confirmOn = (key: string) => confirmReplicated(client, key, replicas, timeoutMs, marker(key));
    await Promise.all(
      perPrimary.map((key) =>
        confirmOn(key).catch(async (err: unknown) => {
          // This connection sends to nodes directly, so it hears of no failover by MOVED: when the
          // node it took for the primary refuses the marker, it learns the slots' new owners and
          // tries once more.
          if (!(err instanceof MarkerRefusedError) || !isCluster(client)) throw err;
          await new Promise<void>((resolve) => client.refreshSlotsCache(() => resolve()));
          return confirmOn(key);
        }),
      ),
    );
  }

  close(): void {
    this.client?.disconnect();
  }

  private async connection(key: string, replicas: number, timeoutMs: number): Promise<RedisClient> {
    if (!this.client) {
      // Queued while it connects; a command still queued at the command timeout fails (503).
      this.client = duplicateClient(this.main, { enableOfflineQueue: true });
      this.client.on('error', this.onError);
    }
    if (this.client.status !== 'ready') {
      // One wait shared by every acknowledgement arriving meanwhile (one listener, not one each).
      this.ready ??= waitUntilReady(this.client, timeoutMs).finally(() => {
        this.ready = undefined;
      });
      await this.ready.catch(() => Promise.reject(new NotReplicatedError(key, replicas, 0, timeoutMs)));
    }
    return this.client;
  }
}

/**
 * What `REDIS_WAIT_REPLICAS=auto` means for this deployment: 1 when every primary has a
 * replica to wait for (INFO replication for a single Redis: an online replica; CLUSTER NODES for a cluster: each
 * primary serving slots has a replica not marked failing), else 0. A cluster where some primary
 * has none gets 0, since WAIT 1 would refuse every write to that primary's slots.
 */
export async function detectWaitReplicas(client: RedisClient): Promise<number> {
  if (!isCluster(client)) {
    // connected_slaves also counts a replica still in its initial sync (which acknowledges
    // nothing yet); only `state=online` ones can confirm a WAIT.
    const info = parseInfo(await client.info('replication'));
    const online = Object.entries(info).filter(([k, v]) => /^slave\d+$/.test(k) && /(?:^|,)state=online(?:,|$)/.test(v));
    return online.length > 0 ? 1 : 0;
  }
  const text = String(await client.nodes('master')[0]?.call('CLUSTER', 'NODES'));
  const nodes = text
    .trim()
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f.length >= 8);
  const serving = nodes.filter((f) => (f[2] ?? '').split(',').includes('master') && f.length > 8);
  if (serving.length === 0) return 0;
  const healthyReplicaOf = new Set(
    nodes
      .filter((f) => (f[2] ?? '').split(',').some((flag) => flag === 'slave' || flag === 'replica') && !/fail/.test(f[2] ?? ''))
      .map((f) => f[3]),
  );
  return serving.every((f) => healthyReplicaOf.has(f[0])) ? 1 : 0;
}

/** REDIS_WAIT_REPLICAS resolved: a number as given, or `auto` detected once at start-up. */
export async function resolveWaitReplicas(setting: number | 'auto', client: RedisClient): Promise<number> {
  return setting === 'auto' ? detectWaitReplicas(client) : setting;
}
