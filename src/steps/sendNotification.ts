import { z } from 'zod';
import { Channel, hasRecipients, MessageText, notAvailable, placeholderPaths, Recipients, RECIPIENTS_MESSAGE } from './params.ts';
import type { StepType } from './types.ts';

export const SendNotificationParams = z
  .object({
    channel: Channel,
    ...Recipients,
    /** May use `{{field.path}}` placeholders. */
    message: MessageText,
    subject: MessageText.optional(),
  })
  .refine((p) => hasRecipients(p ?? {}), { message: RECIPIENTS_MESSAGE, when: () => true });

export const sendNotificationStep: StepType<typeof SendNotificationParams> = {
  type: 'sendNotification',
  group: 'Notifications',
  description: 'Delivers a message to every recipient on the channel (inbox, email or webhook).',
  params: SendNotificationParams,
  fieldPaths: (p) => [
    ...(p.userInfoField === undefined ? [] : [p.userInfoField]),
    ...placeholderPaths(p.message),
    ...placeholderPaths(p.subject ?? ''),
  ],
  execute: () => notAvailable('sendNotification'),
};
