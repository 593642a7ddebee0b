/** Throwaway redis-server processes with odd settings (a replica, a cluster node, a password…). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './redis.ts';

export interface TestRedisServer {
  port: number;
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Starts `redis-server` on a free port with `args`; resolves once it accepts connections. */
export async function spawnRedisServer(args: string[] = []): Promise<TestRedisServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'stageflow-redis-'));
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const end = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (Date.now() > end || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`redis-server ${args.join(' ')} did not start on ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
