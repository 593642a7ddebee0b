/**
 * A Redis stageflow cannot run on is a fatal start-up error naming the fix (within 10 s, exit
 * code non-zero), and a worker already running when Redis turns read-only logs at a bounded rate.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnTs, type Proc } from '../helpers/proc.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { spawnRedisServer, type TestRedisServer } from '../helpers/redis-server.ts';

const servers: TestRedisServer[] = [];
const procs: Proc[] = [];
let primary: TestRedisServer;
let replica: TestRedisServer;

beforeAll(async () => {
  primary = await spawnRedisServer(['--maxmemory-policy', 'noeviction']);
  replica = await spawnRedisServer(['--replicaof', '127.0.0.1', String(primary.port), '--maxmemory-policy', 'noeviction']);
  servers.push(primary, replica);
});

afterAll(async () => {
  for (const p of procs) p.kill();
  for (const s of servers) await s.stop();
});

function worker(url: string, entry = 'workers/worker.ts', args: string[] = []): Proc {
  const p = spawnTs(entry, args, {
    REDIS_URL: url,
    STAGEFLOW_PREFIX: uniquePrefix('chk'),
    LOG_LEVEL: 'info',
    STAGEFLOW_API_KEYS: '',
    PORT: '0',
  });
  procs.push(p);
  return p;
}

/**
 * `ms`: from main() starting (modules loaded) to the fatal line. Module loading is left out: under
 * tsx on a busy test machine it alone can take seconds, and the built image does not compile.
 */
async function fatal(p: Proc): Promise<{ code: number | null; ms: number; line: any }> {
  const code = await p.exited;
  const line = p.lines.find((l) => l.level === 60);
  return { code, ms: line?.startMs ?? Infinity, line };
}

describe('start-up checks', () => {
  it('refuses a read-only replica, naming the primary', async () => {
    const r = await fatal(worker(replica.url));
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.line.err).toMatch(new RegExp(`is a read-only replica of 127\\.0\\.0\\.1:${primary.port}: point REDIS_URL at the primary`));
  });

  it('refuses it for the API role too', async () => {
    const r = await fatal(worker(replica.url, 'src/main.ts', ['--role=api']));
    expect(r.code).toBe(1);
    expect(r.line.err).toMatch(/read-only replica/);
  });

  it('refuses a Redis Cluster node', async () => {
    const node = await spawnRedisServer(['--cluster-enabled', 'yes', '--maxmemory-policy', 'noeviction']);
    servers.push(node);
    const r = await fatal(worker(node.url));
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.line.err).toMatch(
      /is a Redis Cluster node: name the cluster's nodes in REDIS_CLUSTER_NODES \(host:port,host:port,…\) instead of REDIS_URL/,
    );
  });

  it('refuses a wrong or missing password, saying where it goes', async () => {
    const locked = await spawnRedisServer(['--requirepass', 'right-password-123', '--maxmemory-policy', 'noeviction']);
    servers.push(locked);
    for (const url of [locked.url, `redis://:wrong-password@127.0.0.1:${locked.port}`]) {
      const p = worker(url);
      const r = await fatal(p);
      expect(r.code).toBe(1);
      expect(r.ms).toBeLessThan(10_000);
      expect(r.line.err).toMatch(/refused the credentials \((NOAUTH|WRONGPASS)[^)]*\): put the right password in REDIS_URL/);
      expect(p.text()).not.toContain('wrong-password');
    }
    const ok = worker(`redis://:right-password-123@127.0.0.1:${locked.port}`);
    await ok.waitForLine((l) => l.msg === 'step worker started');
    ok.child.kill('SIGTERM');
    expect(await ok.exited).toBe(0);
  });

  it('refuses an evicting maxmemory-policy', async () => {
    const lru = await spawnRedisServer(['--maxmemory-policy', 'allkeys-lru']);
    servers.push(lru);
    const r = await fatal(worker(lru.url));
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.line.err).toMatch(/has maxmemory-policy allkeys-lru, which evicts keys .*: set maxmemory-policy noeviction/);
  });

  it('falls back to INFO memory when CONFIG is refused (managed Redis)', async () => {
    const managed = await spawnRedisServer(['--maxmemory-policy', 'volatile-lru', '--rename-command', 'CONFIG', '']);
    servers.push(managed);
    const r = await fatal(worker(managed.url));
    expect(r.code).toBe(1);
    expect(r.line.err).toMatch(/maxmemory-policy volatile-lru/);
  });
});

describe('a running worker on a read-only replica (a failover left it there)', () => {
  it('logs a bounded number of lines in 10 s, at low CPU', async () => {
    const p = worker(replica.url, 'test/fixtures/unchecked-worker.ts');
    await p.waitForLine((l) => l.msg === 'unchecked worker running');
    const pid = p.child.pid!;
    const cpu = () => {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
    };
    const lines0 = p.rawLines();
    const cpu0 = cpu();
    await new Promise((r) => setTimeout(r, 10_000));
    const lines = p.rawLines() - lines0;
    const cpuShare = (cpu() - cpu0) / 10;
    const errors = p.lines.filter((l) => l.level >= 40).length;
    process.stdout.write(
      `[figure] worker on a read-only replica: ${lines} log lines in the 10 s after start (${p.rawLines()} since spawn, ${errors} warn/error), CPU ${(cpuShare * 100).toFixed(1)}%\n`,
    );
    expect(p.lines.some((l) => l.kind === 'READONLY')).toBe(true);
    expect(lines).toBeLessThan(20);
    expect(p.rawLines()).toBeLessThan(40);
    expect(cpuShare).toBeLessThan(0.3);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  }, 40_000);
});
