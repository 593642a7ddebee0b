/**
 * Dataflows (DESIGN §3 executeDataflow): the registry, the kinds (http, module, workflow) and the
 * `Dataflows` service for ctx.services. The engine's services factory calls
 * `createDataflowServices` once per process.
 */
import type { RedisClient as Redis } from '../engine/redis.ts';
import type { Logger } from 'pino';
import type { Dataflows } from '../steps/services.ts';
import { DataflowRegistry } from './registry.ts';
import { createDataflows, type DataflowsOptions, type StartChild } from './runner.ts';

export interface DataflowServicesOptions {
  redis: Redis;
  /** The deployment's key prefix (STAGEFLOW_PREFIX); keys are `<prefix>:dataflow:<name>` and `<prefix>:dataflow-index`. */
  prefix: string;
  log: Logger;
  startChild?: StartChild;
  moduleDir?: URL;
  http?: DataflowsOptions['http'];
}

export function createDataflowServices({ redis, prefix, log, startChild, moduleDir, http }: DataflowServicesOptions): {
  registry: DataflowRegistry;
  dataflows: Dataflows;
} {
  const registry = new DataflowRegistry(redis, prefix, log);
  const dataflows = createDataflows({
    registry,
    log,
    ...(startChild ? { startChild } : {}),
    ...(moduleDir ? { moduleDir } : {}),
    ...(http ? { http } : {}),
  });
  return { registry, dataflows };
}

export { DataflowRegistry, type HttpDataflowDefinition } from './registry.ts';
export { createDataflows, type DataflowsOptions, type StartChild } from './runner.ts';
export { RetryAfterError } from './errors.ts';
export { callHttpDataflow } from './http.ts';
export { parseRetryAfter } from '../http/retry-after.ts';
