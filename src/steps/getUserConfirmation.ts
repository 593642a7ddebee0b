import { z } from 'zod';
import { PrincipalRef } from '../definition/ids.ts';
import { Channel, FieldPath, notAvailable, Recipients, WaitMs } from './params.ts';
import type { StepType } from './types.ts';

const Policy = z.union([z.enum(['any', 'all']), z.strictObject({ quorum: z.int().min(1) })]);
const OnTimeout = z.union([z.literal('fail'), z.strictObject({ option: z.string().min(1) })]);

export const GetUserConfirmationParams = z
  .object({
    confirmationField: FieldPath,
    options: z.array(z.string().min(1)).min(1, { message: 'at least one option is required' }).optional(),
    /** Field holding the options when they depend on the model. */
    optionsField: FieldPath.optional(),
    ...Recipients,
    /** Who may answer: user ids or `role:<name>`. */
    routing: z.array(PrincipalRef).min(1, { message: 'at least one role or user must be allowed to answer' }),
    policy: Policy.default('any'),
    /** How long to wait for answers (replaces the common step timeout for this step). */
    timeoutMs: WaitMs.optional(),
    onTimeout: OnTimeout.optional(),
    reminderMs: WaitMs.optional(),
    channel: Channel.optional(),
  })
  .superRefine(
    (p, ctx) => {
      // Runs even when other parameters failed (see `when`), so read defensively.
      const options = Array.isArray(p?.options) ? p.options : undefined;
      if (options === undefined && p?.optionsField === undefined) {
        ctx.addIssue({ code: 'custom', message: 'one of options or optionsField is required', path: [] });
      } else if (options !== undefined && p?.optionsField !== undefined) {
        ctx.addIssue({ code: 'custom', message: 'options and optionsField cannot be used together', path: ['optionsField'] });
      }
      options?.forEach((option, i) => {
        if (options.indexOf(option) !== i) ctx.addIssue({ code: 'custom', message: `duplicate option "${option}"`, path: ['options', i] });
      });
      const onTimeout = p?.onTimeout;
      if (options && typeof onTimeout === 'object' && onTimeout !== null && !options.includes(onTimeout.option)) {
        ctx.addIssue({
          code: 'custom',
          message: `onTimeout.option "${onTimeout.option}" is not one of the options (${options.join(', ')})`,
          path: ['onTimeout', 'option'],
        });
      }
    },
    { when: () => true },
  );

export const getUserConfirmationStep: StepType<typeof GetUserConfirmationParams> = {
  type: 'getUserConfirmation',
  group: 'Notifications',
  description: 'Asks the routed users to pick an option and parks the run until they answer.',
  params: GetUserConfirmationParams,
  fieldPaths: (p) =>
    [p.confirmationField, p.optionsField, p.userInfoField].filter((path): path is string => path !== undefined),
  warnings: (p) => [
    ...(p.timeoutMs === undefined ? ['no timeoutMs: the run can wait for an answer forever'] : []),
    ...(p.timeoutMs === undefined && p.onTimeout !== undefined ? ['onTimeout has no effect without timeoutMs'] : []),
  ],
  execute: () => notAvailable('getUserConfirmation'),
};
