/**
 * The local Redis Cluster (scripts/redis-cluster.sh: 3 primaries + 3 replicas) for tests: started
 * once and reused by every file and later runs (the script is idempotent and locks itself), plus
 * helpers that fail a primary over the way operators and crashes do.
 *
 * TEST_REDIS_CLUSTER_NODES set: that cluster is used and never started here. Otherwise the script
 * starts one on REDIS_CLUSTER_PORT (default 7000) when redis-server is installed. Test files skip
 * themselves with `describe.runIf(testCluster())`.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { createKeyspace } from '../../src/engine/keyspace.ts';

export interface ClusterNode {
  host: string;
  port: number;
}

export interface TestCluster {
  seeds: ClusterNode[];
  /** The seeds as REDIS_CLUSTER_NODES spells them. */
  nodesEnv: string;
  /** First port of a cluster this helper started (undefined: TEST_REDIS_CLUSTER_NODES). */
  basePort: number | undefined;
}

const SCRIPT = fileURLToPath(new URL('../../scripts/redis-cluster.sh', import.meta.url));

/** The shared test cluster's first port (scripts/redis-cluster.sh's default). */
const SHARED_PORT = Number(process.env.REDIS_CLUSTER_PORT ?? 7000);

/**
 * First ports of the clusters for test files that SIGKILL or fail over primaries, one cluster per
 * file: test files run in parallel, and a primary going away under another file's commands would
 * fail that file. Two files killing primaries of one cluster at once left no majority to elect a
 * replica (CI failed so). bench/cluster.ts keeps clear of SHARED_PORT+100..+115.
 */
export const DISRUPTIVE_CLUSTER_PORTS = { failover: SHARED_PORT + 100, chaos: SHARED_PORT + 110 } as const;
export type DisruptiveCluster = keyof typeof DISRUPTIVE_CLUSTER_PORTS;

function parseSeeds(list: string): ClusterNode[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const i = s.lastIndexOf(':');
      return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
    });
}

function script(command: 'start' | 'stop' | 'nodes', basePort: number): string {
  const r = spawnSync(SCRIPT, [command], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, REDIS_CLUSTER_PORT: String(basePort) },
  });
  if (r.status !== 0) throw new Error(`scripts/redis-cluster.sh ${command} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

const cached = new Map<number, TestCluster | null>();

/**
 * The test cluster, started if need be; undefined when none can be had (no redis-server), so a
 * file can skip. Synchronous so it can decide `describe.runIf` at collection time. `own`
 * names the cluster of its own (DISRUPTIVE_CLUSTER_PORTS) a file that disrupts primaries gets,
 * which it stops with stopTestCluster when done; TEST_REDIS_CLUSTER_NODES is never disrupted
 * (undefined).
 */
export function testCluster(opts: { own?: DisruptiveCluster } = {}): TestCluster | undefined {
  const basePort = opts.own ? DISRUPTIVE_CLUSTER_PORTS[opts.own] : SHARED_PORT;
  if (cached.has(basePort)) return cached.get(basePort) ?? undefined;
  const given = process.env.TEST_REDIS_CLUSTER_NODES?.trim();
  if (given) {
    const c = opts.own ? null : { seeds: parseSeeds(given), nodesEnv: given, basePort: undefined };
    cached.set(basePort, c);
    return c ?? undefined;
  }
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    cached.set(basePort, null);
    return undefined;
  }
  script('start', basePort);
  const nodesEnv = script('nodes', basePort).trim();
  const c = { seeds: parseSeeds(nodesEnv), nodesEnv, basePort };
  cached.set(basePort, c);
  return c;
}

/** Restarts any node a test killed (it rejoins as a replica) and waits until the cluster is whole. */
export function healTestCluster(cluster: TestCluster): void {
  if (cluster.basePort !== undefined) script('start', cluster.basePort);
}

/** Stops a cluster this helper started (for `own` clusters; the shared one is reused). */
export function stopTestCluster(cluster: TestCluster): void {
  if (cluster.basePort !== undefined) {
    script('stop', cluster.basePort);
    cached.delete(cluster.basePort);
  }
}

export interface NodeInfo {
  id: string;
  host: string;
  port: number;
  role: 'master' | 'replica';
  /** For a replica: its primary's id. */
  masterId: string | undefined;
  failing: boolean;
  connected: boolean;
  /** Slot ranges a primary serves, inclusive. */
  slots: Array<[number, number]>;
}

/** Parses CLUSTER NODES output (one line per node). */
export function parseClusterNodes(text: string): NodeInfo[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, addr, flags, master, , , , link, ...slotSpecs] = line.trim().split(' ');
      const hostPort = (addr ?? '').split('@')[0] ?? '';
      const i = hostPort.lastIndexOf(':');
      const flagList = (flags ?? '').split(',');
      const slots: Array<[number, number]> = [];
      for (const spec of slotSpecs) {
        if (spec.startsWith('[')) continue; // a slot being migrated
        const [a, b] = spec.split('-').map(Number);
        if (a !== undefined) slots.push([a, b ?? a]);
      }
      return {
        id: id ?? '',
        host: hostPort.slice(0, i),
        port: Number(hostPort.slice(i + 1)),
        role: flagList.includes('master') ? ('master' as const) : ('replica' as const),
        masterId: master && master !== '-' ? master : undefined,
        failing: flagList.includes('fail') || flagList.includes('fail?'),
        connected: link === 'connected',
        slots,
      };
    });
}

async function withNode<T>(node: ClusterNode, fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/** The cluster as the first answering seed sees it. */
export async function topology(cluster: TestCluster): Promise<NodeInfo[]> {
  let last: unknown;
  for (const seed of cluster.seeds) {
    try {
      return parseClusterNodes(await withNode(seed, (c) => c.call('CLUSTER', 'NODES') as Promise<string>));
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`no cluster seed answers: ${String(last)}`);
}

/** The primaries serving slots, each with its replicas. */
export async function primaries(cluster: TestCluster): Promise<Array<NodeInfo & { replicas: NodeInfo[] }>> {
  const nodes = await topology(cluster);
  return nodes
    .filter((n) => n.role === 'master' && !n.failing && n.slots.length > 0)
    .map((m) => ({ ...m, replicas: nodes.filter((r) => r.masterId === m.id && !r.failing) }))
    .sort((a, b) => (a.slots[0]?.[0] ?? 0) - (b.slots[0]?.[0] ?? 0));
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // a node mid-failover may refuse or drop the connection; look again
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function clusterOkFrom(node: ClusterNode): Promise<boolean> {
  const info = await withNode(node, (c) => c.call('CLUSTER', 'INFO') as Promise<string>);
  return /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info);
}

/**
 * Waits until every live node sees `promoted` as a primary serving slots and `old` no longer as
 * one (gossip takes a moment to reach them all), and the cluster is ok from each side.
 */
async function waitAgreed(cluster: TestCluster, promoted: NodeInfo, old: NodeInfo, timeoutMs: number): Promise<void> {
  let lastSeen = 'no view yet';
  try {
    await until(`every node to see ${promoted.port} as the primary instead of ${old.port}`, timeoutMs, async () => {
      for (const seed of cluster.seeds) {
        if (seed.port === old.port && seed.host === old.host) continue; // may be dead
        let view: NodeInfo[];
        try {
          view = parseClusterNodes(await withNode(seed, (c) => c.call('CLUSTER', 'NODES') as Promise<string>));
        } catch {
          continue; // a node killed earlier and not healed yet
        }
        const p = view.find((n) => n.id === promoted.id);
        const o = view.find((n) => n.id === old.id);
        // The old primary must have stepped down (replica) or be seen dead (a master without slots
        // is only a moment in between).
        if (p?.role !== 'master' || p.slots.length === 0 || !(o?.role === 'replica' || o?.failing)) {
          lastSeen = `${seed.port} sees ${promoted.port} as ${p?.role ?? 'unknown'} with ${p?.slots.length ?? 0} slot ranges, ${old.port} as ${o?.role ?? 'unknown'}${o?.failing ? ' (failing)' : ''}`;
          return false;
        }
        if (!(await clusterOkFrom(seed))) {
          lastSeen = `${seed.port} does not report cluster_state:ok with every slot served`;
          return false;
        }
      }
      return true;
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}; last: ${lastSeen}`);
  }
}

/** The pid of a local node's redis-server (to SIGKILL, or SIGSTOP to stall it). */
export async function processPid(node: ClusterNode): Promise<number> {
  const info = await withNode(node, (c) => c.info('server'));
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no process_id in INFO of ${node.port}`);
  return pid;
}

/** The primary serving `key`'s slot, with its replicas. */
export async function primaryOf(cluster: TestCluster, key: string): Promise<NodeInfo & { replicas: NodeInfo[] }> {
  const slot = Number(await withNode(cluster.seeds[0] as ClusterNode, (c) => c.call('CLUSTER', 'KEYSLOT', key)));
  const owner = (await primaries(cluster)).find((p) => p.slots.some(([a, b]) => slot >= a && slot <= b));
  if (!owner) throw new Error(`no primary serves slot ${slot}`);
  return owner;
}

export interface Failover {
  /** The primary that lost its role. */
  old: NodeInfo;
  /** Its replica, now serving the old primary's slots. */
  promoted: NodeInfo;
}

/**
 * A manual failover: `CLUSTER FAILOVER` on a replica of `primary` (no write is lost). Redis drops
 * a manual failover it cannot finish within 5 s (the replica's catch-up and the primaries' votes
 * both ride the cluster bus, which a loaded machine slows: CI lost one so), silently; the replica
 * then is still a replica, and the request is sent again.
 */
export async function failoverPrimary(cluster: TestCluster, primary: NodeInfo, timeoutMs = 45_000): Promise<Failover> {
  const replica = (await topology(cluster)).find((n) => n.masterId === primary.id && !n.failing && n.connected);
  if (!replica) throw new Error(`primary ${primary.port} has no healthy replica to fail over to`);
  const started = Date.now();
  const promotedInOwnView = async () => {
    const view = parseClusterNodes(await withNode(replica, (c) => c.call('CLUSTER', 'NODES') as Promise<string>));
    const me = view.find((n) => n.id === replica.id);
    return me?.role === 'master' && me.slots.length > 0;
  };
  let requests = 0;
  for (;;) {
    await withNode(replica, (c) => c.call('CLUSTER', 'FAILOVER'));
    requests++;
    try {
      // Redis's manual-failover timeout is 5 s; a little more before asking again.
      await until(`${replica.port} to take over from ${primary.port}`, 6_000, promotedInOwnView);
      break;
    } catch (err) {
      if (Date.now() - started + 6_000 > timeoutMs) {
        throw new Error(`${String((err as Error).message)} (CLUSTER FAILOVER sent ${requests} times)`);
      }
    }
  }
  await waitAgreed(cluster, replica, primary, Math.max(5_000, timeoutMs - (Date.now() - started)));
  return { old: primary, promoted: replica };
}

/**
 * A crash: SIGKILLs `primary` and waits until one of its replicas is promoted (about twice
 * REDIS_CLUSTER_NODE_TIMEOUT_MS). The killed node stays down until healTestCluster().
 */
export async function killPrimary(cluster: TestCluster, primary: NodeInfo, timeoutMs = 30_000): Promise<Failover> {
  const replicas = (await topology(cluster)).filter((n) => n.masterId === primary.id && !n.failing);
  if (replicas.length === 0) throw new Error(`primary ${primary.port} has no replica that could take over`);
  process.kill(await processPid(primary), 'SIGKILL');
  const started = Date.now();
  let promoted: NodeInfo | undefined;
  await until(`a replica of ${primary.port} to take over`, timeoutMs, async () => {
    for (const r of replicas) {
      const view = parseClusterNodes(await withNode(r, (c) => c.call('CLUSTER', 'NODES') as Promise<string>));
      const me = view.find((n) => n.id === r.id);
      if (me?.role === 'master' && me.slots.length > 0) {
        promoted = r;
        return true;
      }
    }
    return false;
  });
  const p = promoted as NodeInfo;
  await waitAgreed(cluster, p, primary, Math.max(1_000, timeoutMs - (Date.now() - started)));
  return { old: primary, promoted: p };
}

/** An ioredis Cluster on the test cluster for direct checks (not stageflow's connection factory). */
export function rawClusterClient(cluster: TestCluster): Cluster {
  const client = new Cluster(cluster.seeds, { redisOptions: { maxRetriesPerRequest: 1 } });
  client.on('error', () => {});
  return client;
}

/** Deletes every key under `${prefix}:` on every primary (SCAN is per node on a cluster). */
export async function cleanupClusterPrefix(client: Cluster, prefix: string): Promise<number> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(prefix)) throw new Error(`refusing unsafe prefix ${JSON.stringify(prefix)}`);
  let removed = 0;
  for (const node of client.nodes('master')) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      // Keys of one page sit in different slots, and after a failover this node list may be stale:
      // UNLINK each through the cluster client, which follows MOVED.
      for (const key of keys) removed += await client.unlink(key);
    } while (cursor !== '0');
  }
  return removed;
}

/**
 * True once stageflow's key layout is partitioned (issue 12 items 1-5: the keyspace hands out a
 * partition's keys), i.e. every script's keys share one slot and full runs work on a cluster.
 * Before that, run-level cluster tests skip themselves with `.runIf(scriptsPartitioned())`.
 */
export function scriptsPartitioned(): boolean {
  const keys = createKeyspace('sf') as unknown as Record<string, unknown>;
  return typeof keys.partition === 'function' || typeof keys.partitions === 'number' || Array.isArray(keys.partitions);
}
