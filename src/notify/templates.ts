/**
 * Message templates: stored in Redis by name (PUT/GET /api/templates/{name}) and rendered with
 * LiquidJS in a sandboxed configuration — no file system (includes, renders and layouts find
 * nothing), own properties only, unknown filters are errors, and every parse and render is
 * bounded in size, time and memory. `html` output escapes every value unless a template author
 * marks it `| raw`; `text` output is left as is.
 *
 * sendNotification's `{{field.path}}` messages go through the same engine (renderMessage).
 */
import { Liquid } from 'liquidjs';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { IDENTIFIER_PATTERN } from '../definition/ids.ts';
import type { Keys } from '../engine/keys.ts';
import type { Templates } from '../steps/services.ts';
import { NonRetryableError, type Model } from '../steps/types.ts';

export type RenderType = 'text' | 'html';

export const TemplateName = z
  .string()
  .regex(IDENTIFIER_PATTERN, "must be 1-64 characters of letters, digits, '_' or '-', starting with a letter or digit");

const MAX_BODY = 256 * 1024;
/** RFC 5322 keeps a header line under 998 characters. */
const MAX_SUBJECT = 998;

export const TemplateInput = z
  .object({
    subject: z.string().max(MAX_SUBJECT).optional(),
    body: z.string().min(1).max(MAX_BODY),
    renderType: z.enum(['text', 'html']).default('text'),
  })
  .strict();
export type TemplateInput = z.input<typeof TemplateInput>;

export interface StoredTemplate {
  name: string;
  subject?: string;
  body: string;
  /** The format the template is written for; the step's renderType decides escaping. */
  renderType: RenderType;
  createdAt: string;
  updatedAt: string;
}

export type TemplateSummary = Omit<StoredTemplate, 'body'>;

const LIMITS = {
  /** Characters parsed per parse() call. */
  parseLimit: 1_000_000,
  /** Milliseconds per render() call. */
  renderLimit: 1_000,
  /** Roughly: characters and array items a render may allocate. */
  memoryLimit: 10_000_000,
};

function createEngine(renderType: RenderType): Liquid {
  return new Liquid({
    // An empty in-memory file system: {% include %}, {% render %} and {% layout %} find nothing.
    templates: {},
    strictFilters: true,
    ownPropertyOnly: true,
    ...(renderType === 'html' ? { outputEscape: 'escape' as const } : {}),
    ...LIMITS,
  });
}

const engines: Record<RenderType, Liquid> = { text: createEngine('text'), html: createEngine('html') };

/** What went wrong in a template, for a 400 at save time or the step's failure reason. */
export function templateProblem(source: string, renderType: RenderType = 'text'): string | undefined {
  try {
    engines[renderType].parse(source);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Subjects are one header line: whitespace (newlines included) collapses to single spaces. */
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim().slice(0, MAX_SUBJECT);

async function renderWith(renderType: RenderType, source: string, model: Model, what: string): Promise<string> {
  try {
    const parsed = engines[renderType].parse(source);
    return String(await engines[renderType].render(parsed, model));
  } catch (err) {
    // Rendering touches nothing outside the model (no file system, no I/O): whatever failed
    // will fail the same way on a retry.
    throw new NonRetryableError(`${what} could not be rendered: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Renders a step's own message (sendNotification: `{{field.path}}` placeholders, full Liquid
 * syntax allowed) against the model. Errors are NonRetryableError: a retry renders the same.
 */
export function renderMessage(message: string, model: Model, renderType: RenderType = 'text'): Promise<string> {
  return renderWith(renderType, message, model, 'the message');
}

/** Renders a subject line (never HTML-escaped: it is a header, not markup). */
export async function renderSubject(subject: string, model: Model): Promise<string> {
  return oneLine(await renderWith('text', subject, model, 'the subject'));
}

export class TemplateStore implements Templates {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /**
   * Saves (creates or replaces) a template. Throws TemplateSyntaxError when the subject or body
   * does not parse, so a broken template is refused at save time rather than at run time.
   */
  async put(name: string, input: TemplateInput, now = new Date()): Promise<{ created: boolean; template: StoredTemplate }> {
    const parsed = TemplateInput.parse(input);
    const errors: Array<{ path: string; message: string }> = [];
    const bodyProblem = templateProblem(parsed.body, parsed.renderType);
    if (bodyProblem) errors.push({ path: '$.body', message: bodyProblem });
    const subjectProblem = parsed.subject === undefined ? undefined : templateProblem(parsed.subject);
    if (subjectProblem) errors.push({ path: '$.subject', message: subjectProblem });
    if (errors.length > 0) throw new TemplateSyntaxError(errors);

    const previous = await this.get(name);
    const template: StoredTemplate = {
      name,
      ...(parsed.subject !== undefined ? { subject: parsed.subject } : {}),
      body: parsed.body,
      renderType: parsed.renderType,
      createdAt: previous?.createdAt ?? now.toISOString(),
      updatedAt: now.toISOString(),
    };
    const res = await this.redis.multi().set(this.keys.template(name), JSON.stringify(template), 'GET').sadd(this.keys.templateIndex, name).exec();
    const error = res?.find(([err]) => err)?.[0];
    if (error) throw error;
    return { created: res?.[0]?.[1] === null, template };
  }

  async get(name: string): Promise<StoredTemplate | undefined> {
    const json = await this.redis.get(this.keys.template(name));
    return json === null ? undefined : (JSON.parse(json) as StoredTemplate);
  }

  async exists(name: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.template(name))) === 1;
  }

  /** Every template without its body, by name. */
  async list(): Promise<TemplateSummary[]> {
    const names = (await this.redis.smembers(this.keys.templateIndex)).sort();
    if (names.length === 0) return [];
    const raw = await this.redis.mget(...names.map((n) => this.keys.template(n)));
    return raw.flatMap((json) => {
      if (json === null) return [];
      const { body: _body, ...summary } = JSON.parse(json) as StoredTemplate;
      return [summary];
    });
  }

  async render(name: string, renderType: RenderType, model: Model): Promise<{ subject?: string; body: string }> {
    // A Redis failure here is worth a retry; only a missing or broken template is not.
    const template = await this.get(name);
    if (!template) throw new NonRetryableError(`template "${name}" does not exist (register it with PUT /api/templates/${name})`);
    const body = await renderWith(renderType, template.body, model, `template "${name}"`);
    const subject = template.subject === undefined ? undefined : oneLine(await renderWith('text', template.subject, model, `the subject of template "${name}"`));
    return { ...(subject !== undefined ? { subject } : {}), body };
  }
}

export class TemplateSyntaxError extends Error {
  override name = 'TemplateSyntaxError';
  constructor(readonly errors: Array<{ path: string; message: string }>) {
    super(`the template does not parse: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  }
}
