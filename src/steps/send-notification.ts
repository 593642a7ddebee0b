import { z } from 'zod';
import { renderMessage, renderSubject } from '../notify/templates.ts';
import { Channel, hasRecipients, MessageText, placeholderPaths, principalRefs, Recipients, RECIPIENTS_MESSAGE } from './params.ts';
import { recipientRefs } from './recipients.ts';
import { NonRetryableError, type StepType } from './types.ts';

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
  references: principalRefs,
  async execute(ctx) {
    const { params, model, services } = ctx;
    const recipients = services.directory.resolve(recipientRefs(model, params));
    if (recipients.length === 0) throw new NonRetryableError('no recipients: every role named has no members');
    const body = await renderMessage(params.message, model, 'text');
    const subject = params.subject === undefined ? undefined : await renderSubject(params.subject, model);
    const report = await services.notifier.deliver(
      {
        channel: params.channel,
        recipients,
        ...(subject !== undefined ? { subject } : {}),
        body,
        format: 'text',
        data: { runId: ctx.runId, stepId: ctx.stepId, workflow: ctx.workflow },
      },
      { effectKey: ctx.effectKey, runId: ctx.runId, stepId: ctx.stepId, seq: ctx.seq, attempt: ctx.attempt, signal: ctx.signal },
    );
    return {
      outcome: { kind: 'next' },
      detail: { channel: params.channel, delivered: report.delivered, alreadySent: report.alreadySent, unreachable: report.unreachable },
    };
  },
};
