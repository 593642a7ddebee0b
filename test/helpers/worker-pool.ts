/**
 * Step worker processes for the chaos tests: each is `workers/worker.ts` under tsx with the
 * test's environment, its output kept so a timed-out wait can show what the workers said.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export class WorkerPool {
  readonly children: ChildProcess[] = [];
  private readonly outputs: string[] = [];

  constructor(private readonly env: Record<string, string | undefined>) {}

  spawn(extraEnv: Record<string, string> = {}): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/worker.ts'], {
      env: { ...process.env, ...this.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const index = this.children.length;
    this.outputs[index] = '';
    const keep = (d: Buffer) => {
      this.outputs[index] += String(d);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.children.push(child);
    return child;
  }

  /** The worker id the `index`th spawned worker logged at start. */
  workerIdOf(index: number): string | undefined {
    return /"workerId":"([0-9a-f-]{36})"[^\n]*"step worker started"/.exec(this.outputs[index] ?? '')?.[1];
  }

  /** Resolves with fn's first truthy value; past `ms` fails with the tail of every worker's output. */
  async until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms: number, everyMs = 10): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${this.outputs.join('').slice(-3000)}`);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  killAll(): void {
    for (const w of this.children) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  }
}

/**
 * The crash tests' workflow: `steps` steps over two stages; odd steps set a field, even steps
 * call the module dataflow `sleep` (it takes PAUSE_MS), so a worker always holds jobs and a kill
 * lands on work in flight.
 */
export function crashWorkflow(name: string, steps: number) {
  return {
    name,
    stages: [0, 1].map((st) => ({
      id: `stage${st + 1}`,
      name: `Stage ${st + 1}`,
      steps: Array.from({ length: steps / 2 }, (_, j) => {
        const k = st * (steps / 2) + j + 1;
        return k % 2
          ? { id: `s${k}`, type: 'updateModelField', field: `f${k}`, value: k }
          : { id: `s${k}`, type: 'executeDataflow', dataflow: 'sleep', input: 'pause', resultField: `slept${k}` };
      }),
    })),
  };
}
