/**
 * What the save-time lint looks up (DESIGN §2): registered dataflows and templates and the
 * principals directory. Read once per request, since the lint itself is synchronous.
 */
import type { ValidateOptions } from '../definition/validate.ts';
import type { DataflowRegistry } from '../dataflows/registry.ts';
import { principalKnown } from '../notify/directory.ts';
import type { TemplateStore } from '../notify/templates.ts';
import type { PrincipalRegistry } from './principals.ts';

export interface LintSources {
  dataflows: Pick<DataflowRegistry, 'list'>;
  /** Without a template store (no notify services) templates are not checked. */
  templates?: Pick<TemplateStore, 'list'>;
  principals: PrincipalRegistry;
}

export type LintOptions = () => Promise<ValidateOptions>;

export function lintOptions(sources: LintSources): LintOptions {
  return async () => {
    const [flows, templates] = await Promise.all([sources.dataflows.list(), sources.templates?.list()]);
    const flowNames = new Set(flows.map((f) => f.name));
    const templateNames = templates ? new Set(templates.map((t) => t.name)) : undefined;
    return {
      dataflowExists: (name) => flowNames.has(name),
      ...(templateNames ? { templateExists: (name: string) => templateNames.has(name) } : {}),
      principalKnown: (ref) => principalKnown(sources.principals, ref),
    };
  };
}
