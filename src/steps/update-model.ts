import { z } from 'zod';
import type { StepType } from './types.ts';

export const UpdateModelParams = z.object({});

export const updateModelStep: StepType<typeof UpdateModelParams> = {
  type: 'updateModel',
  group: 'Common',
  description: "Saves the working model into the run's entry (version + 1).",
  params: UpdateModelParams,
  execute: () => ({ saveEntry: true, outcome: { kind: 'next' } }),
};
