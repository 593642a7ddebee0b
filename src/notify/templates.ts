/**
 * Message templates: stored in Redis by name (PUT/GET /api/templates/{name}) and rendered with
 * LiquidJS in a sandboxed configuration — no file system (includes, renders and layouts find
 * nothing), own properties only, unknown filters are errors, and every parse and render is
 * bounded in size, time and memory. `html` output escapes every value unless a template author
 * marks it `| raw`; `text` output is left as is.
 *
 * sendNotification's `{{field.path}}` messages go through the same engine (renderMessage).
 */
import { createHash } from 'node:crypto';
import { Liquid } from 'liquidjs';
import type { RedisClient as Redis } from '../engine/redis.ts';
import { z } from 'zod';
import { IDENTIFIER_PATTERN } from '../definition/ids.ts';
import type { Keyspace } from '../engine/keyspace.ts';
import type { Attachment, PreparedMessage, Templates } from '../steps/services.ts';
import { EngineError } from '../engine/errors.ts';
import { NonRetryableError, type Model } from '../steps/types.ts';
import {
  DOCUMENT_TYPES,
  documentKind,
  DocumentTemplateError,
  isDocumentType,
  type DocumentType,
  type TemplateIssue,
} from './documents/index.ts';
import type { DocumentLinks } from './document-links.ts';
import type { DocumentStore } from './documents.ts';

export type RenderType = 'text' | 'html';
export type TemplateRenderType = RenderType | DocumentType;
export const RENDER_TYPES = ['text', 'html', ...DOCUMENT_TYPES] as const;

export const TemplateName = z
  .string()
  .regex(IDENTIFIER_PATTERN, "must be 1-64 characters of letters, digits, '_' or '-', starting with a letter or digit");

const MAX_BODY = 256 * 1024;
/** RFC 5322 keeps a header line under 998 characters. */
const MAX_SUBJECT = 998;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The metadata of a template: all of a registration but the file (the multipart `meta` part). */
export const TemplateMeta = z
  .object({
    subject: z.string().max(MAX_SUBJECT).optional(),
    /** The message text; for a document template the e-mail/inbox text that goes with the document. */
    body: z.string().min(1).max(MAX_BODY).optional(),
    renderType: z.enum(RENDER_TYPES).default('text'),
    /** File name of the rendered document (Liquid placeholders allowed); default `<template>.<ext>`. */
    fileName: z.string().min(1).max(255).optional(),
  })
  .strict();

export const TemplateInput = TemplateMeta.extend({
  /** docx/xlsx: the file as base64; pdf: the pdfmake document definition (object or JSON text). */
  content: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
})
  .strict()
  .superRefine((t, ctx) => {
    const doc = isDocumentType(t.renderType ?? 'text');
    if (!doc && t.body === undefined)
      ctx.addIssue({ code: 'custom', path: ['body'], message: `a ${t.renderType ?? 'text'} template needs a body` });
    if (!doc && t.content !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['content'],
        message: `content is for docx, xlsx and pdf templates; a ${t.renderType ?? 'text'} template has a body`,
      });
    if (!doc && t.fileName !== undefined)
      ctx.addIssue({ code: 'custom', path: ['fileName'], message: 'fileName is for docx, xlsx and pdf templates' });
    if (
      (t.renderType === 'docx' || t.renderType === 'xlsx') &&
      t.content !== undefined &&
      (typeof t.content !== 'string' || !BASE64.test(t.content.replace(/\s+/g, '')))
    ) {
      ctx.addIssue({ code: 'custom', path: ['content'], message: `a ${t.renderType} template's content must be the file as base64` });
    }
  });
export type TemplateInput = z.input<typeof TemplateInput>;

export interface TemplateFile {
  size: number;
  sha256: string;
  contentType: string;
}

export interface StoredTemplate {
  name: string;
  subject?: string;
  /** Required for text/html; for documents the text sent with the document. */
  body?: string;
  /** The format the template is written for; for text/html the step's renderType decides escaping. */
  renderType: TemplateRenderType;
  fileName?: string;
  /** Model field paths the template's tags and placeholders read (loop children as `items.name`). */
  tags: string[];
  /** The uploaded file (documents only; download it from GET /api/templates/{name}/file). */
  file?: TemplateFile;
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

/** The model paths a Liquid source reads (its global variables), or [] when it does not parse. */
export function liquidTags(source: string): string[] {
  try {
    return engines.text.globalFullVariablesSync(source);
  } catch {
    return [];
  }
}

/** A file name safe in a Content-Disposition header and on any file system. */
function safeFileName(name: string, extension: string): string {
  const cleaned =
    name
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this strips
      .replace(/[\u0000-\u001f\u007f/\\:*?"<>|]+/g, '_')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 200) || 'document';
  return cleaned.toLowerCase().endsWith(`.${extension}`) ? cleaned : `${cleaned}.${extension}`;
}

export interface TemplateStoreOptions {
  /** Where rendered documents are kept, one per effect key. Without it document templates cannot be sent. */
  documents?: DocumentStore;
  /** Signs the download URLs sent with documents. */
  documentLinks?: DocumentLinks;
  /** Largest template file (TEMPLATE_MAX_BYTES). Default 5 MiB. */
  maxBytes?: number;
}

export class TemplateStore implements Templates {
  readonly maxBytes: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly opts: TemplateStoreOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? 5 * 1024 * 1024;
  }

  /** The file of a registration given as JSON: base64 for docx/xlsx, the definition for pdf. */
  private fileOf(input: z.output<typeof TemplateInput>): Buffer | undefined {
    if (input.content === undefined) return undefined;
    if (input.renderType === 'pdf')
      return Buffer.from(typeof input.content === 'string' ? input.content : JSON.stringify(input.content), 'utf8');
    return Buffer.from(String(input.content).replace(/\s+/g, ''), 'base64');
  }

  /**
   * Saves (creates or replaces) a template. Throws TemplateSyntaxError when the subject, body,
   * file name or document does not parse (naming the tag and where), and TemplateTooLarge past
   * maxBytes, so a broken template is refused at save time rather than at run time.
   * The file comes from `content` (JSON) or from `file` (an upload).
   */
  async put(
    name: string,
    input: TemplateInput & { file?: Buffer },
    now = new Date(),
  ): Promise<{ created: boolean; template: StoredTemplate }> {
    const { file: upload, ...rest } = input;
    const parsed = TemplateInput.parse(rest);
    const file = upload ?? this.fileOf(parsed);
    const doc = isDocumentType(parsed.renderType);
    if (doc && !file)
      throw new TemplateSyntaxError([
        { path: '$.content', message: `a ${parsed.renderType} template needs its file (content, or a "template" file part)` },
      ]);
    if (!doc && upload)
      throw new TemplateSyntaxError([{ path: '$.template', message: `a ${parsed.renderType} template has a body, not a file` }]);
    if (file && file.length > this.maxBytes) throw new TemplateTooLarge(file.length, this.maxBytes);

    const errors: TemplateIssue[] = [];
    const tags = new Set<string>();
    const liquidPart = (source: string | undefined, path: string, renderType: RenderType = 'text') => {
      if (source === undefined) return;
      const problem = templateProblem(source, renderType);
      if (problem) errors.push({ path, message: problem });
      else for (const t of liquidTags(source)) tags.add(t);
    };
    liquidPart(parsed.body, '$.body', doc ? 'text' : (parsed.renderType as RenderType));
    liquidPart(parsed.subject, '$.subject');
    liquidPart(parsed.fileName, '$.fileName');
    let fileInfo: TemplateFile | undefined;
    if (doc && file) {
      const kind = await documentKind(parsed.renderType as DocumentType);
      try {
        for (const t of kind.inspect(file)) tags.add(t);
      } catch (err) {
        if (!(err instanceof DocumentTemplateError)) throw err;
        errors.push(...err.issues);
      }
      fileInfo = { size: file.length, sha256: createHash('sha256').update(file).digest('hex'), contentType: kind.contentType };
    }
    if (errors.length > 0) throw new TemplateSyntaxError(errors);

    const previous = await this.get(name);
    const template: StoredTemplate = {
      name,
      ...(parsed.subject !== undefined ? { subject: parsed.subject } : {}),
      ...(parsed.body !== undefined ? { body: parsed.body } : {}),
      renderType: parsed.renderType,
      ...(parsed.fileName !== undefined ? { fileName: parsed.fileName } : {}),
      tags: [...tags],
      ...(fileInfo ? { file: fileInfo } : {}),
      createdAt: previous?.createdAt ?? now.toISOString(),
      updatedAt: now.toISOString(),
    };
    const tx = this.redis.multi().set(this.keys.template(name), JSON.stringify(template), 'GET');
    if (file) tx.set(this.keys.templateFile(name), file);
    else tx.del(this.keys.templateFile(name));
    const res = await tx.sadd(this.keys.templateIndex, name).exec();
    const error = res?.find(([err]) => err)?.[0];
    if (error) throw error;
    return { created: res?.[0]?.[1] === null, template };
  }

  async get(name: string): Promise<StoredTemplate | undefined> {
    const json = await this.redis.get(this.keys.template(name));
    return json === null ? undefined : (JSON.parse(json) as StoredTemplate);
  }

  /** The uploaded file of a document template. */
  async file(name: string): Promise<Buffer | undefined> {
    return (await this.redis.getBuffer(this.keys.templateFile(name))) ?? undefined;
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

  /** Template name → the model paths it reads, for the workflow lint (see validate.ts). */
  async tagIndex(): Promise<Map<string, string[]>> {
    return new Map((await this.list()).map((t) => [t.name, t.tags ?? []]));
  }

  private async require(name: string): Promise<StoredTemplate> {
    // A Redis failure here is worth a retry; only a missing or broken template is not.
    const template = await this.get(name);
    if (!template) throw new NonRetryableError(`template "${name}" does not exist (register it with PUT /api/templates/${name})`);
    return template;
  }

  async render(name: string, renderType: RenderType, model: Model): Promise<{ subject?: string; body: string }> {
    const template = await this.require(name);
    return this.renderText(template, renderType, model);
  }

  private async renderText(template: StoredTemplate, renderType: RenderType, model: Model): Promise<{ subject?: string; body: string }> {
    const name = template.name;
    const source = template.body ?? (template.file ? `The document "${template.fileName ?? name}" is attached.` : '');
    const body = await renderWith(renderType, source, model, `template "${name}"`);
    const subject =
      template.subject === undefined
        ? undefined
        : oneLine(await renderWith('text', template.subject, model, `the subject of template "${name}"`));
    return { ...(subject !== undefined ? { subject } : {}), body };
  }

  /**
   * Renders a document template against the model (no storing): the preview, and the step's
   * first attempt. Errors are NonRetryableError naming the template and what failed.
   */
  async renderDocument(name: string, model: Model): Promise<{ bytes: Buffer; fileName: string; contentType: string }> {
    const template = await this.require(name);
    return this.renderDocumentOf(template, model);
  }

  private async renderDocumentOf(
    template: StoredTemplate,
    model: Model,
  ): Promise<{ bytes: Buffer; fileName: string; contentType: string }> {
    const name = template.name;
    if (!isDocumentType(template.renderType))
      throw new NonRetryableError(`template "${name}" is a ${template.renderType} template, not a document`);
    const kind = await documentKind(template.renderType);
    const file = await this.file(name);
    if (!file) throw new NonRetryableError(`template "${name}" has no file (register it again)`);
    let bytes: Buffer;
    try {
      bytes = await kind.render(file, model);
    } catch (err) {
      throw new NonRetryableError(
        `template "${name}" could not be rendered as ${template.renderType}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const rawName =
      template.fileName === undefined
        ? name
        : oneLine(await renderWith('text', template.fileName, model, `the file name of template "${name}"`));
    return { bytes, fileName: safeFileName(rawName, kind.extension), contentType: kind.contentType };
  }

  async prepare(name: string, renderType: TemplateRenderType | undefined, model: Model, effectKey: string): Promise<PreparedMessage> {
    const template = await this.require(name);
    const own = template.renderType;
    if (!isDocumentType(own)) {
      if (renderType !== undefined && isDocumentType(renderType))
        throw new NonRetryableError(`template "${name}" is a ${own} template; the step asks for ${renderType}`);
      const format = (renderType ?? own) as RenderType;
      return { ...(await this.renderText(template, format, model)), format, attachments: [] };
    }
    if (renderType !== undefined && renderType !== own && isDocumentType(renderType)) {
      throw new NonRetryableError(`template "${name}" is a ${own} template; the step asks for ${renderType}`);
    }
    const { documents, documentLinks } = this.opts;
    if (!documents || !documentLinks) throw new NonRetryableError('document templates are not configured in this process');
    // Subject and body first: a broken text fails the step before anything is stored.
    const text = await this.renderText(template, 'text', model);
    const doc = await documents.once(effectKey, async () => ({ ...(await this.renderDocumentOf(template, model)), template: name }));
    const exp = Date.parse(doc.meta.expiresAt);
    const attachment: Attachment = {
      n: 1,
      fileName: doc.meta.fileName,
      contentType: doc.meta.contentType,
      size: doc.meta.size,
      content: doc.bytes,
      documentId: doc.meta.id,
      url: await documentLinks.url({ doc: doc.meta.id, exp }),
      expiresAt: doc.meta.expiresAt,
    };
    return { ...text, format: 'text', attachments: [attachment], rendered: doc.rendered };
  }
}

export class TemplateTooLarge extends EngineError {
  override name = 'TemplateTooLarge';
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super('too_large', `the template file is ${size} bytes; the limit is ${limit} (TEMPLATE_MAX_BYTES)`);
  }
}

export class TemplateSyntaxError extends EngineError {
  override name = 'TemplateSyntaxError';
  constructor(override readonly errors: TemplateIssue[]) {
    super('invalid', `the template does not parse: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
  }
}
