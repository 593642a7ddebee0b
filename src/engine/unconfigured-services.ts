/**
 * Services for an engine opened without any (unit-style tests, tools): every use fails the step
 * at once with a message saying what is missing, instead of a crash or a silent no-op.
 */
import type { StepServices } from '../steps/services.ts';
import { NonRetryableError } from '../steps/types.ts';

const missing = (what: string) => () => {
  throw new NonRetryableError(`${what} is not configured in this process`);
};

export function unconfiguredServices(): Omit<StepServices, 'links'> {
  return {
    directory: { resolve: missing('the principal directory'), matches: missing('the principal directory'), rolesOf: () => [] },
    notifier: { deliver: missing('notification delivery') },
    templates: { render: missing('template rendering'), prepare: missing('template rendering') },
    dataflows: { run: missing('dataflows') },
    publicUrl: (path) => path,
  };
}
