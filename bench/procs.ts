/**
 * Processes the HTTP modes run: a private redis-server (so INFO commandstats holds only the
 * bench's traffic, not the other users of a shared Redis), stageflow started as `npm start` /
 * `npm run api` / `npm run worker` start it, and the reference server. Each server's own CPU time
 * is read from /proc, so Node CPU per step is the server's, not the bench client's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { spawnRedisServer, type TestRedisServer } from '../test/helpers/redis-server.ts';
import { freePort } from '../test/helpers/redis.ts';
import { sleep } from './lib.ts';

export interface Server {
  name: string;
  url: string;
  pid: number;
  proc: Proc;
  /** user+system CPU ms this process has used so far. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/**
 * A server process whose output goes to a file, not through the bench: reading and parsing a
 * log line per request would take CPU from the HTTP client on a 2-core host.
 */
export interface Proc {
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
  text(): string;
  kill(): void;
}

/**
 * Every process the bench starts, killed when the bench exits however it exits: a bench that
 * died on an error once left its API, worker and Redis running, and their polling skewed every
 * measurement after it.
 */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function spawnLogged(args: string[], env: Record<string, string>, logFile: string): Proc {
  const fd = openSync(logFile, 'a');
  const child = track(spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] }));
  closeSync(fd);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    logFile,
    exited,
    text: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

async function waitForLog(proc: Proc, needle: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!proc.text().includes(needle)) {
    if (proc.child.exitCode !== null || Date.now() > end) throw new Error(`no "${needle}" in the log:\n${proc.text().slice(-3000)}`);
    await sleep(100);
  }
}

let agent: Agent | undefined;

/**
 * One-off requests (health checks, saving the workflow, probes) on an agent the bench closes at
 * the end; the global fetch's keep-alive sockets would keep the process alive after it finished.
 */
export async function call(
  url: string,
  init: { method?: 'GET' | 'POST' | 'PUT'; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string; json: () => any }> {
  agent ??= new Agent({ keepAliveTimeout: 1000 });
  const res = await request(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, body: init.body ?? null, dispatcher: agent });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: () => JSON.parse(text) };
}

export async function closeAgent(): Promise<void> {
  const a = agent;
  agent = undefined;
  await a?.close();
}

const CLK_TCK = 100; // Linux' USER_HZ; /proc/<pid>/stat counts CPU in these ticks

export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // after "pid (comm) ": state is field 3, utime 14, stime 15 → indexes 11 and 12 here
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

async function waitHealthy(url: string, proc: Proc, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`server exited (${proc.child.exitCode}):\n${proc.text().slice(-3000)}`);
    try {
      const res = await call(`${url}/healthz`);
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > end) throw new Error(`server at ${url} not healthy after ${ms} ms:\n${proc.text().slice(-3000)}`);
    await sleep(100);
  }
}

async function spawnServer(
  name: string,
  entry: string,
  args: string[],
  env: Record<string, string>,
  nodeFlags: string[],
  port?: number,
): Promise<Server> {
  const logDir = mkdtempSync(path.join(tmpdir(), 'stageflow-bench-log-'));
  const proc = spawnLogged([...nodeFlags, '--import', 'tsx', entry, ...args], env, path.join(logDir, 'out.log'));
  const pid = proc.child.pid!;
  const url = port === undefined ? '' : `http://127.0.0.1:${port}`;
  if (port !== undefined) {
    await waitHealthy(url, proc).catch((err) => {
      proc.kill();
      throw err;
    });
  }
  return {
    name,
    url,
    pid,
    proc,
    cpuMs: () => procCpuMs(pid),
    async stop() {
      if (proc.child.exitCode === null && proc.child.signalCode === null) {
        // SIGTERM, so the process drains and writes its --cpu-prof file
        proc.child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 20_000)));
        const done = await Promise.race([proc.exited.then(() => true), late]);
        clearTimeout(timer);
        if (!done) proc.kill();
      }
      if (process.env.BENCH_KEEP_LOGS) process.stderr.write(`bench: ${name} log kept: ${proc.logFile}\n`);
      else rmSync(logDir, { recursive: true, force: true });
    },
  };
}

export interface Keys {
  designer: string;
  client: string;
}

export function benchKeys(): Keys {
  return { designer: `bench-designer-${randomBytes(12).toString('hex')}`, client: `bench-client-${randomBytes(12).toString('hex')}` };
}

/**
 * stageflow as a user starts it: `tsx src/main.ts` (role all = `npm start`, api = `npm run api`) or
 * `tsx workers/worker.ts` (`npm run worker`), with API keys in STAGEFLOW_API_KEYS. Two deliberate
 * departures from the defaults, both needed to measure at all: RATE_LIMIT_PER_MINUTE=0 (the
 * default 1,200/min per principal would answer 429 within a second) and a private data dir.
 */
export async function startStageflow(
  role: 'all' | 'api' | 'worker',
  redisUrl: string,
  prefix: string,
  keys: Keys,
  opts: { nodeFlags?: string[]; logLevel?: string } = {},
): Promise<Server> {
  const port = role === 'worker' ? undefined : await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'stageflow-bench-'));
  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    STAGEFLOW_PREFIX: prefix,
    STAGEFLOW_API_KEYS: JSON.stringify([
      { id: 'bench-designer', key: keys.designer, roles: ['designer'] },
      { id: 'bench-client', key: keys.client, roles: ['client'] },
    ]),
    RATE_LIMIT_PER_MINUTE: '0',
    STAGEFLOW_DATA_DIR: dataDir,
    LOG_LEVEL: opts.logLevel ?? process.env.BENCH_LOG_LEVEL ?? 'info',
    NODE_ENV: 'production',
  };
  if (port !== undefined) env.PORT = String(port);
  const entry = role === 'worker' ? 'workers/worker.ts' : 'src/main.ts';
  const args = role === 'api' ? ['--role=api'] : [];
  const server = await spawnServer(`stageflow(${role})`, entry, args, env, opts.nodeFlags ?? [], port);
  if (role === 'worker') {
    await waitForLog(server.proc, '"msg":"step worker started"', 60_000).catch(async (err) => {
      await server.stop();
      throw err;
    });
  }
  const stop = server.stop;
  server.stop = async () => {
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return server;
}

export async function startReference(redisUrl: string, prefix: string, withWorker: boolean, nodeFlags: string[] = []): Promise<Server> {
  const port = await freePort();
  return spawnServer(
    withWorker ? 'reference' : 'reference(add only)',
    'bench/reference-server.ts',
    [],
    { REDIS_URL: redisUrl, PORT: String(port), REF_PREFIX: prefix, REF_WORKER: withWorker ? '1' : '0', NODE_ENV: 'production' },
    nodeFlags,
    port,
  );
}

/** A private redis-server (noeviction, no persistence) unless BENCH_REDIS=shared, which uses REDIS_URL. */
export async function benchRedis(): Promise<{ url: string; private: boolean; stop(): Promise<void> }> {
  if (process.env.BENCH_REDIS === 'shared') {
    return { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', private: false, stop: async () => undefined };
  }
  const s: TestRedisServer = await spawnRedisServer(['--maxmemory-policy', 'noeviction', '--slowlog-log-slower-than', '1000']);
  track(s.child);
  return { url: s.url, private: true, stop: () => s.stop() };
}
