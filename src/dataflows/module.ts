/**
 * The `module` dataflow kind: a TypeScript function in `workers/dataflows/<module>.ts` whose
 * default export takes the input and a context, and returns (or resolves to) the result.
 *
 *   export default async function (input, { signal, effectKey, runId, stepId, attempt }) { … }
 *
 * A thrown Error is retried per the step's policy; throw NonRetryableError (src/steps/types.ts)
 * for a failure a retry cannot fix. `signal` aborts on the dataflow/step timeout and on worker
 * shutdown; a module that ignores it is abandoned (its promise is no longer awaited) all the same.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EffectContext } from '../steps/services.ts';
import { NonRetryableError } from '../steps/types.ts';
import { DataflowError } from './errors.ts';
import { DATAFLOW_NAME_PATTERN, type ModuleDataflowDefinition } from './registry.ts';

export interface ModuleCallContext {
  signal: AbortSignal;
  /** `runId/stepId/seq`: the same on every attempt; use it to make side effects idempotent. */
  effectKey: string;
  runId: string;
  stepId: string;
  attempt: number;
}

export type DataflowModule = (input: unknown, ctx: ModuleCallContext) => unknown;

/** workers/dataflows/ at the repository root. */
export const DEFAULT_MODULE_DIR = new URL('../../workers/dataflows/', import.meta.url);

/** Built code (`npm run build`, the image) loads the compiled `.js` modules; tsx loads the sources. */
const MODULE_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** Imports dataflow modules once per process (per directory). */
export class ModuleLoader {
  private readonly cache = new Map<string, Promise<DataflowModule>>();
  readonly dir: URL;

  constructor(dir: URL = DEFAULT_MODULE_DIR) {
    this.dir = dir.href.endsWith('/') ? dir : new URL(`${dir.href}/`);
  }

  load(name: string): Promise<DataflowModule> {
    let loading = this.cache.get(name);
    if (!loading) {
      loading = this.importModule(name);
      this.cache.set(name, loading);
      // A missing file may be added later: only successful loads stay cached.
      loading.catch(() => this.cache.delete(name));
    }
    return loading;
  }

  private async importModule(name: string): Promise<DataflowModule> {
    if (!DATAFLOW_NAME_PATTERN.test(name))
      throw new NonRetryableError(`module dataflow name ${JSON.stringify(name)} is not a plain file name`);
    const url = new URL(`${name}${MODULE_EXT}`, this.dir);
    const shown = path.relative(process.cwd(), fileURLToPath(url));
    try {
      await access(url);
    } catch {
      throw new NonRetryableError(`dataflow module ${shown} does not exist`);
    }
    let mod: { default?: unknown };
    try {
      mod = (await import(url.href)) as { default?: unknown };
    } catch (err) {
      throw new NonRetryableError(`dataflow module ${shown} could not be loaded: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (typeof mod.default !== 'function') throw new NonRetryableError(`dataflow module ${shown} has no default export function`);
    return mod.default as DataflowModule;
  }
}

export async function callModuleDataflow(
  def: ModuleDataflowDefinition,
  input: unknown,
  ctx: EffectContext & { timeoutMs?: number },
  loader: ModuleLoader,
): Promise<unknown> {
  const fn = await loader.load(def.module);
  const timeoutMs = ctx.timeoutMs ?? def.timeoutMs;
  const timeout = timeoutMs !== undefined ? AbortSignal.timeout(timeoutMs) : undefined;
  const signal = timeout ? AbortSignal.any([ctx.signal, timeout]) : ctx.signal;
  const abortError = (): Error => {
    if (timeout?.aborted) return new DataflowError(`dataflow ${def.name} (module ${def.module}) timed out after ${timeoutMs} ms`);
    const reason: unknown = ctx.signal.reason;
    return reason instanceof Error ? reason : new DataflowError(`dataflow ${def.name} was aborted`);
  };
  if (signal.aborted) throw abortError();

  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
  });
  let result: unknown;
  try {
    const call = Promise.resolve().then(() =>
      fn(input, { signal, effectKey: ctx.effectKey, runId: ctx.runId, stepId: ctx.stepId, attempt: ctx.attempt }),
    );
    result = await Promise.race([call, aborted]);
  } catch (err) {
    throw err instanceof Error ? err : new DataflowError(`dataflow ${def.name} (module ${def.module}) threw ${String(err)}`);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
  return toJson(def, result);
}

/** The model is JSON: a result becomes what it would be after a JSON round trip (undefined → null). */
function toJson(def: ModuleDataflowDefinition, value: unknown): unknown {
  if (value === undefined) return null;
  try {
    const text = JSON.stringify(value);
    return text === undefined ? null : (JSON.parse(text) as unknown);
  } catch (err) {
    throw new NonRetryableError(
      `dataflow ${def.name} (module ${def.module}) returned a value that is not JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
