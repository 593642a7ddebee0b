/**
 * A CPU budget for one process, as if it ran on a machine of its own with that much CPU: the
 * cluster bench's `BENCH_CLUSTER_CPU` gives each redis-server primary its own cgroup with a CFS
 * quota, so Redis, not the 2-core host's one Node process, is the bound, and the bench can show
 * what partitioning buys a Redis-bound deployment (steps/s growing with primaries).
 *
 * Uses the cgroup v2 `cpu` controller when the root cgroup offers it, else the v1 `cpu` hierarchy;
 * both need root. A short CFS period (10 ms) keeps a throttled Redis's pauses short, so the
 * figure measures CPU, not 100 ms stalls.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const V2_ROOT = '/sys/fs/cgroup';
const V1_CPU = '/sys/fs/cgroup/cpu';
const PERIOD_US = 10_000;

export interface CpuCap {
  /** Removes the cgroup; its process must have exited (a cgroup with tasks cannot go). */
  release(): void;
}

function v2Available(): boolean {
  const controllers = path.join(V2_ROOT, 'cgroup.controllers');
  return existsSync(controllers) && readFileSync(controllers, 'utf8').split(/\s+/).includes('cpu');
}

/** Puts `pid` in a new cgroup `name` limited to `cores` (e.g. 0.1 = a tenth of one core). */
export function capCpu(pid: number, cores: number, name: string): CpuCap {
  if (!(cores > 0 && cores <= 64)) throw new Error(`bench: CPU cap ${cores} is not a core count in (0, 64]`);
  const quota = Math.max(1000, Math.round(cores * PERIOD_US));
  try {
    if (v2Available()) {
      // A v2 child gets the cpu controller only once its parent enables it for its children.
      appendFileSync(path.join(V2_ROOT, 'cgroup.subtree_control'), '+cpu');
      const dir = path.join(V2_ROOT, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`);
      writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
      return { release: () => removeDir(dir) };
    }
    const dir = path.join(V1_CPU, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
    writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(quota));
    writeFileSync(path.join(dir, 'tasks'), String(pid));
    return { release: () => removeDir(dir) };
  } catch (err) {
    throw new Error(
      `bench: BENCH_CLUSTER_CPU needs a writable cgroup cpu controller (${V2_ROOT} v2 or ${V1_CPU} v1, as root): ${(err as Error).message}`,
    );
  }
}

function removeDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Still holding a task that has not been reaped yet; the empty cgroup is harmless and the next
    // run's mkdir reuses it.
  }
}
