/**
 * The composition root of what step handlers and routes use besides the engine: notification
 * channels, templates, the inbox, dataflows. One set per engine (the engine calls the factory
 * in its constructor); `close()` ends SSE streams, the SMTP pool and subscriber connections.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import type { PrincipalRegistry } from './api/principals.ts';
import { createDataflowServices } from './dataflows/index.ts';
import type { DataflowRegistry } from './dataflows/registry.ts';
import type { Engine } from './engine/engine.ts';
import { createNotifyServices, type NotifyServices } from './notify/index.ts';
import type { StepServices } from './steps/services.ts';

export interface ServiceSet {
  notify: NotifyServices;
  dataflowRegistry: DataflowRegistry;
}

export interface Services {
  /** Pass as EngineOptions.services. */
  factory: (engine: Engine) => Omit<StepServices, 'links'>;
  /** The set of the first engine built with this factory. */
  get(): ServiceSet;
  close(): Promise<void>;
}

export function createServices(
  config: Pick<Config, 'notify' | 'publicUrl'> & Partial<Pick<Config, 'templateMaxBytes'>>,
  principals: PrincipalRegistry,
  log: Logger,
): Services {
  // An engine per role may share one factory (npm start runs API and worker): keep every set to close it.
  const sets: ServiceSet[] = [];
  return {
    factory: (engine) => {
      const notify = createNotifyServices({
        redis: engine.redis,
        keys: engine.keys,
        config,
        registry: principals,
        log,
        // Documents live as long as the runs they were sent from, signed like answer links.
        documentTtlSec: engine.opts.retentionSec,
        documentSecret: () => engine.links.secretText(),
        ...(config.templateMaxBytes ? { templateMaxBytes: config.templateMaxBytes } : {}),
      });
      const df = createDataflowServices({
        redis: engine.redis,
        prefix: engine.keys.prefix,
        log,
        startChild: (workflow, input, ctx) => engine.startChildRun(workflow, input, ctx),
      });
      sets.push({ notify, dataflowRegistry: df.registry });
      return {
        directory: notify.directory,
        notifier: notify.notifier,
        templates: notify.templates,
        dataflows: df.dataflows,
        publicUrl: notify.publicUrl,
      };
    },
    get: () => {
      if (!sets[0]) throw new Error('services are created with the engine');
      return sets[0];
    },
    close: async () => {
      for (const set of sets.splice(0)) await set.notify.close();
    },
  };
}
