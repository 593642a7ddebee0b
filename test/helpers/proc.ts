/** A spawned stageflow process whose JSON log lines a test can wait for and count. */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Proc {
  child: ChildProcess;
  lines: any[];
  /** Every line written, JSON or not. */
  rawLines: () => number;
  text: () => string;
  waitForLine: (pred: (l: any) => boolean, ms?: number) => Promise<any>;
  exited: Promise<number | null>;
  kill(): void;
}

export function spawnProc(command: string, args: string[], env: Record<string, string | undefined>): Proc {
  const child = spawn(command, args, { env: { ...process.env, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: any[] = [];
  let raw = '';
  let count = 0;
  let partial = '';
  const onData = (d: Buffer) => {
    const text = partial + String(d);
    raw += String(d);
    if (raw.length > 2_000_000) raw = raw.slice(-1_000_000);
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      if (!line.trim()) continue;
      count += 1;
      try {
        lines.push(JSON.parse(line));
      } catch {
        /* not a log line */
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const waitForLine = async (pred: (l: any) => boolean, ms = 20_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const hit = lines.find(pred);
      if (hit) return hit;
      if (Date.now() > end || child.exitCode !== null) throw new Error(`no such log line; output:\n${raw.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return {
    child,
    lines,
    rawLines: () => count,
    text: () => raw,
    waitForLine,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** The node running the tests, with tsx, on a TypeScript entry point. */
export function spawnTs(entry: string, args: string[], env: Record<string, string | undefined>): Proc {
  return spawnProc(process.execPath, ['--import', 'tsx', entry, ...args], env);
}
