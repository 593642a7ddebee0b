/**
 * What step handlers may use besides the model: the engine builds one StepServices per process
 * and hands it to every handler as `ctx.services`. Each service lives in its own module
 * (src/notify, src/dataflows); this file is only the contract between them and the steps.
 */
import type { z } from 'zod';
import type { Channel as ChannelParam } from './params.ts';
import type { Model } from './types.ts';

/** A person or system a message goes to. */
export interface Recipient {
  /** Principal id, or the address itself for recipients given as an e-mail address or URL. */
  id: string;
  email?: string;
  name?: string;
  webhookUrl?: string;
}

export interface Directory {
  /** Expands user ids, `role:<name>` groups and raw e-mail addresses into recipients (deduplicated). */
  resolve(refs: readonly string[]): Recipient[];
  /** True when the principal is named by one of `refs` (its id, or one of its roles as `role:<name>`). */
  matches(principal: { id: string; roles: readonly string[] }, refs: readonly string[]): boolean;
  /** The roles of a known principal ([] for an unknown id), e.g. for someone answering through a signed link. */
  rolesOf(id: string): string[];
}

/** The channels a message can go out on: those the step parameter `channel` accepts (params.ts). */
export type Channel = z.infer<typeof ChannelParam>;

/** A rendered document sent with a message (e-mail attachment, inbox download, webhook link). */
export interface Attachment {
  /** 1-based position among the message's attachments (the `{n}` of the inbox download route). */
  n: number;
  fileName: string;
  contentType: string;
  size: number;
  content: Buffer;
  /** The stored document (src/notify/documents.ts). */
  documentId: string;
  /** A signed download URL valid until `expiresAt` (for webhooks). */
  url: string;
  expiresAt: string;
}

export interface OutgoingMessage {
  channel: Channel;
  recipients: Recipient[];
  subject?: string;
  body: string;
  format: 'text' | 'html';
  /** Extra structured data (run id, step id, links) for inbox items and webhook payloads. */
  data?: Record<string, unknown>;
  attachments?: Attachment[];
}

export interface EffectContext {
  /** `runId/stepId/seq`: the same on every attempt of one step at one seq. */
  effectKey: string;
  runId: string;
  stepId: string;
  seq: number;
  attempt: number;
  signal: AbortSignal;
}

export interface DeliveryReport {
  delivered: number;
  /** Recipients skipped because this effect key already reached them (a redelivered step). */
  alreadySent: number;
  /** Recipients the channel cannot reach (no e-mail address, no webhook URL), with why. */
  unreachable: Array<{ id: string; reason: string }>;
}

export interface Notifier {
  /** Delivers once per (effect key, recipient, channel); throws to ask for a retry. */
  deliver(message: OutgoingMessage, ctx: EffectContext): Promise<DeliveryReport>;
}

export type TemplateRenderType = 'text' | 'html' | 'docx' | 'xlsx' | 'pdf';

export interface PreparedMessage {
  subject?: string;
  body: string;
  format: 'text' | 'html';
  attachments: Attachment[];
  /** For a document template: whether this call rendered it (false: an earlier attempt's was reused). */
  rendered?: boolean;
}

export interface Templates {
  /** Renders a stored template against the model; throws NonRetryableError when it is missing or broken. */
  render(name: string, renderType: 'text' | 'html', model: Model): Promise<{ subject?: string; body: string }>;
  /**
   * The message of a templated notification: subject and body, and for a document template the
   * document, rendered once per effect key. `renderType` absent means the template's own.
   * Throws NonRetryableError when the template is missing, of another type, or fails to render.
   */
  prepare(name: string, renderType: TemplateRenderType | undefined, model: Model, effectKey: string): Promise<PreparedMessage>;
}

export type DataflowOutcome =
  /** The dataflow answered: its result goes to resultField or is merged into the model. */
  | { kind: 'result'; value: unknown }
  /** A child run was started: the step parks until the child ends. */
  | { kind: 'child'; childRunId: string };

export interface Dataflows {
  /** Runs the named dataflow. Throws NonRetryableError for failures a retry cannot fix. */
  run(name: string, input: unknown, ctx: EffectContext & { timeoutMs?: number }): Promise<DataflowOutcome>;
}

export interface ConfirmationLinks {
  /** One signed single-use answer link per option for `principalId`, valid until `exp` (ms). */
  forOptions(args: {
    runId: string;
    stepId: string;
    seq: number;
    principalId: string;
    options: string[];
    exp: number;
  }): Promise<Record<string, string>>;
}

export interface StepServices {
  links: ConfirmationLinks;
  directory: Directory;
  notifier: Notifier;
  templates: Templates;
  dataflows: Dataflows;
  /** Builds the public URL of a page or API path (for links in messages). */
  publicUrl(path: string): string;
}
