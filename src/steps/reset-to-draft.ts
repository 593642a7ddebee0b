import { z } from 'zod';
import type { StepType } from './types.ts';

export const ResetToDraftParams = z.object({});

export const resetToDraftStep: StepType<typeof ResetToDraftParams> = {
  type: 'resetToDraft',
  group: 'Common',
  pure: true,
  description: 'Ends execution and puts the run back to draft; the working model reverts to the saved entry.',
  params: ResetToDraftParams,
  terminal: true,
  execute: () => ({ outcome: { kind: 'draft' } }),
};
