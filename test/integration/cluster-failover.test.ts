/**
 * The cluster test helpers do what the failover tests of the partition work will lean on: a
 * manual failover swaps a primary and its replica without losing a write, a SIGKILLed primary is
 * replaced by its replica, and healing brings the killed node back as a replica.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  failoverPrimary,
  healTestCluster,
  killPrimary,
  primaries,
  rawClusterClient,
  stopTestCluster,
  testCluster,
  topology,
} from '../helpers/cluster.ts';
import { uniquePrefix } from '../helpers/redis.ts';

// A cluster of its own: killing primaries under other files' commands would fail them.
const cluster = testCluster({ own: 'failover' });

describe.runIf(cluster)('local Redis Cluster helpers', () => {
  const c = cluster as NonNullable<typeof cluster>;
  const prefix = uniquePrefix('cluster-failover');
  const client = rawClusterClient(c);

  afterAll(() => {
    client.disconnect();
    stopTestCluster(c);
  });

  it('has 3 primaries covering every slot, each with a replica', async () => {
    const ps = await primaries(c);
    expect(ps).toHaveLength(3);
    const covered = ps.flatMap((p) => p.slots).reduce((n, [a, b]) => n + (b - a + 1), 0);
    expect(covered).toBe(16_384);
    for (const p of ps) expect(p.replicas.length).toBeGreaterThanOrEqual(1);
  });

  it('CLUSTER FAILOVER promotes the replica and keeps the data', async () => {
    const key = `${prefix}:{manual}:k`;
    const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
    const owner = (await primaries(c)).find((p) => p.slots.some(([a, b]) => slot >= a && slot <= b));
    expect(owner).toBeDefined();
    // A manual failover (no FORCE) lets the replica catch up before it switches roles.
    await client.set(key, 'acked');
    const { promoted, old } = await failoverPrimary(c, owner as NonNullable<typeof owner>);
    const after = await topology(c);
    expect(after.find((n) => n.id === promoted.id)?.role).toBe('master');
    expect(after.find((n) => n.id === old.id)?.role).toBe('replica');
    expect(await client.get(key)).toBe('acked');
  });

  it('a SIGKILLed primary is replaced by its replica; healing brings it back as a replica', async () => {
    const victim = (await primaries(c))[1];
    expect(victim).toBeDefined();
    const v = victim as NonNullable<typeof victim>;
    const { promoted } = await killPrimary(c, v);
    expect(promoted.id).not.toBe(v.id);
    // the cluster serves the victim's slots again
    const key = `${prefix}:{killed}:k`;
    await client.set(key, 'x');
    expect(await client.get(key)).toBe('x');
    healTestCluster(c);
    const healed = await topology(c);
    const back = healed.find((n) => n.id === v.id);
    expect(back?.role).toBe('replica');
    expect(back?.failing).toBe(false);
    expect((await primaries(c)).every((p) => p.replicas.length >= 1)).toBe(true);
  }, 90_000);
});
