import { z } from 'zod';
import { Identifier } from '../definition/ids.ts';
import { Channel, hasRecipients, principalRefs, Recipients, RECIPIENTS_MESSAGE } from './params.ts';
import { recipientRefs } from './recipients.ts';
import { NonRetryableError, type StepType } from './types.ts';

export const SendTemplatedNotificationParams = z
  .object({
    template: Identifier,
    /** text/html: how a text template is rendered (html escapes values); docx/xlsx/pdf: must match the template. Absent: the template's own. */
    renderType: z.enum(['text', 'html', 'docx', 'xlsx', 'pdf']).optional(),
    channel: Channel,
    ...Recipients,
  })
  .refine((p) => hasRecipients(p ?? {}), { message: RECIPIENTS_MESSAGE, when: () => true });

export const sendTemplatedNotificationStep: StepType<typeof SendTemplatedNotificationParams> = {
  type: 'sendTemplatedNotification',
  group: 'Notifications',
  description:
    'Renders a stored template against the model and delivers it; a docx, xlsx or pdf template is rendered once per step and attached.',
  params: SendTemplatedNotificationParams,
  fieldPaths: (p) => (p.userInfoField === undefined ? [] : [p.userInfoField]),
  references: (p) => [{ kind: 'template', name: p.template, path: 'template' }, ...principalRefs(p)],
  async execute(ctx) {
    const { params, model, services } = ctx;
    const recipients = services.directory.resolve(recipientRefs(model, params));
    if (recipients.length === 0) throw new NonRetryableError('no recipients: every role named has no members');
    // Before any delivery: a template that fails to render sends nothing.
    const { subject, body, format, attachments, rendered } = await services.templates.prepare(
      params.template,
      params.renderType,
      model,
      ctx.effectKey,
    );
    const report = await services.notifier.deliver(
      {
        channel: params.channel,
        recipients,
        ...(subject !== undefined ? { subject } : {}),
        body,
        format,
        data: { runId: ctx.runId, stepId: ctx.stepId, workflow: ctx.workflow, template: params.template },
        ...(attachments.length ? { attachments } : {}),
      },
      { effectKey: ctx.effectKey, runId: ctx.runId, stepId: ctx.stepId, seq: ctx.seq, attempt: ctx.attempt, signal: ctx.signal },
    );
    return {
      outcome: { kind: 'next' },
      detail: {
        channel: params.channel,
        delivered: report.delivered,
        alreadySent: report.alreadySent,
        unreachable: report.unreachable,
        ...(attachments[0]
          ? { document: { id: attachments[0].documentId, fileName: attachments[0].fileName, size: attachments[0].size, rendered } }
          : {}),
      },
    };
  },
};
