import { z } from 'zod';
import type { StepType } from './types.ts';

export const FinishParams = z.object({
  /** Free-form label of how the run ended (e.g. "approved"), recorded on the run. */
  outcome: z.string().min(1).max(200).optional(),
});

export const finishStep: StepType<typeof FinishParams> = {
  type: 'finish',
  group: 'Common',
  pure: true,
  description: 'Ends the run now with status completed.',
  params: FinishParams,
  terminal: true,
  execute: ({ params }) => ({
    outcome: params.outcome === undefined ? { kind: 'finish' } : { kind: 'finish', outcome: params.outcome },
  }),
};
