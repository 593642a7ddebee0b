import { z } from 'zod';
import { Identifier, PrincipalRef } from '../definition/ids.ts';
import { Channel, hasRecipients, notAvailable, Recipients, RECIPIENTS_MESSAGE } from './params.ts';
import type { StepType } from './types.ts';

export const SendTemplatedNotificationParams = z
  .object({
    template: Identifier,
    renderType: z.enum(['text', 'html']),
    channel: Channel,
    ...Recipients,
    routing: z.array(PrincipalRef).optional(),
  })
  .refine((p) => hasRecipients(p ?? {}), { message: RECIPIENTS_MESSAGE, when: () => true });

export const sendTemplatedNotificationStep: StepType<typeof SendTemplatedNotificationParams> = {
  type: 'sendTemplatedNotification',
  group: 'Notifications',
  description: 'Renders a stored template against the model and delivers it.',
  params: SendTemplatedNotificationParams,
  fieldPaths: (p) => (p.userInfoField === undefined ? [] : [p.userInfoField]),
  references: (p) => [{ kind: 'template', name: p.template, path: 'template' }],
  execute: () => notAvailable('sendTemplatedNotification'),
};
