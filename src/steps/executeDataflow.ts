import { z } from 'zod';
import { Identifier } from '../definition/ids.ts';
import { FieldPath, notAvailable, WaitMs } from './params.ts';
import type { StepType } from './types.ts';

export const ExecuteDataflowParams = z.object({
  dataflow: Identifier,
  /** Field passed as the dataflow input; the whole model when absent. */
  input: FieldPath.optional(),
  /** Where the result goes; merged into the model when absent. */
  resultField: FieldPath.optional(),
  /** Replaces the common step timeout: a child workflow may legitimately run for days. */
  timeoutMs: WaitMs.optional(),
});

export const executeDataflowStep: StepType<typeof ExecuteDataflowParams> = {
  type: 'executeDataflow',
  group: 'Integrations',
  description: 'Runs a registered dataflow and waits for its result.',
  params: ExecuteDataflowParams,
  fieldPaths: (p) => [p.input, p.resultField].filter((path): path is string => path !== undefined),
  references: (p) => [{ kind: 'dataflow', name: p.dataflow, path: 'dataflow' }],
  execute: () => notAvailable('executeDataflow'),
};
