/**
 * /api/templates: register, read, list and preview message and document templates (designers
 * and admins write). A document template (docx, xlsx, pdf) is sent as JSON with its file as
 * base64 (pdf: the pdfmake definition) or as multipart/form-data with a `template` file part and
 * a `meta` JSON part; GET shows its tags, `/file` downloads what was uploaded.
 */
import express, { type Response } from 'express';
import { z } from 'zod';
import { isDocumentType } from '../../notify/documents/index.ts';
import { TemplateInput, TemplateMeta, TemplateName, type TemplateStore } from '../../notify/templates.ts';
import { EngineError } from '../../engine/errors.ts';
import { NonRetryableError } from '../../steps/types.ts';
import { principalOf } from '../auth.ts';
import type { Authz } from '../authz.ts';
import { bodyOf } from '../body.ts';
import { isMultipart, readTemplateUpload } from '../multipart.ts';
import { parseInput } from '../problem.ts';
import { file, itemsOf, PreviewResult, StoredTemplate, TemplateSummary } from '../responses.ts';
import { Routes } from '../route.ts';

export const PreviewInput = z.object({ model: z.record(z.string(), z.unknown()).default({}) }).strict();

/** JSON bodies of this router may carry a template file as base64 (4/3 of its size) plus metadata. */
export function templateJsonLimit(maxBytes: number): number {
  return Math.ceil(maxBytes / 3) * 4 + 1024 * 1024;
}

function sendFile(res: Response, bytes: Buffer, fileName: string, contentType: string): void {
  res.status(200).attachment(fileName).type(contentType).set('Cache-Control', 'no-store').send(bytes);
}

const tooLarge = (maxBytes: number) =>
  new EngineError('too_large', `the template file is larger than ${maxBytes} bytes (TEMPLATE_MAX_BYTES)`);

/** Mounted before the API's own JSON parser: template bodies may be far larger than other requests. */
export function templateBodyParser(maxBytes: number): express.RequestHandler[] {
  return [
    (req, res, next) => {
      // Only PUT /{name} reads multipart (busboy); every other body stays JSON-only.
      if (req.method === 'PUT' && /^\/[^/]+$/.test(req.path)) res.locals.multipart = true;
      next();
    },
    express.json({ limit: templateJsonLimit(maxBytes), strict: false, type: ['application/json', 'application/*+json'] }),
    ((err, _req, _res, next) => {
      if ((err as { type?: string }).type === 'entity.too.large') return next(tooLarge(maxBytes));
      next(err);
    }) as express.ErrorRequestHandler as unknown as express.RequestHandler,
  ];
}

export interface TemplateDeps {
  templates: TemplateStore;
  authz: Authz;
}

const ByName = z.object({ name: TemplateName });
const tags = ['templates'];

export const templateRoutes = new Routes<TemplateDeps>('/api/templates')
  .add(
    { method: 'get', path: '/api/templates', summary: 'List notification templates', tags, responses: { 200: itemsOf(TemplateSummary) } },
    ({ templates }) =>
      async (_input, _req, res) => {
        res.json({ items: await templates.list() });
      },
  )
  .add(
    {
      method: 'get',
      path: '/api/templates/{name}',
      summary: 'Read a notification template (metadata and tags, not the file)',
      tags,
      params: ByName,
      responses: { 200: StoredTemplate },
      problems: [400, 404],
    },
    ({ templates }) =>
      async ({ params: { name } }, _req, res) => {
        const template = await templates.get(name);
        if (!template) throw new EngineError('not_found', `template ${name} does not exist`);
        res.json(template);
      },
  )
  .add(
    {
      method: 'get',
      path: '/api/templates/{name}/file',
      summary: 'Download the file a document template was registered with',
      tags,
      params: ByName,
      responses: { 200: file('the docx or xlsx file, or the pdf definition as JSON') },
      problems: [400, 404],
    },
    ({ templates }) =>
      async ({ params: { name } }, _req, res) => {
        const template = await templates.get(name);
        if (!template) throw new EngineError('not_found', `template ${name} does not exist`);
        const bytes = template.file ? await templates.file(name) : undefined;
        if (!template.file || !bytes)
          throw new EngineError('not_found', `template ${name} is a ${template.renderType} template and has no file`);
        const ext = template.renderType === 'pdf' ? 'json' : template.renderType;
        sendFile(res, bytes, `${name}.${ext}`, template.renderType === 'pdf' ? 'application/json' : template.file.contentType);
      },
  )
  .add(
    {
      method: 'put',
      path: '/api/templates/{name}',
      summary: 'Save a notification template (admin, designer)',
      description:
        'JSON (`content`: a docx/xlsx file as base64, a pdf template as pdfmake JSON) or multipart/form-data with a `template` file part and a `meta` JSON part; files past TEMPLATE_MAX_BYTES are a 413. A template that does not parse is a 400 naming the tag and where.',
      tags,
      params: ByName,
      // Read by the handler, after the role check: JSON or multipart.
      bodyDoc: {
        required: true,
        content: {
          'application/json': TemplateInput,
          'multipart/form-data': z.object({
            meta: TemplateMeta,
            template: z.string().meta({ contentMediaType: 'application/octet-stream' }).optional(),
          }),
        },
      },
      responses: {
        200: { description: 'replaced or unchanged', content: { 'application/json': StoredTemplate } },
        201: { description: 'created', content: { 'application/json': StoredTemplate } },
      },
      problems: [403],
    },
    ({ templates, authz }) =>
      async ({ params: { name } }, req, res) => {
        authz.design(principalOf(res), 'templates');
        let input: TemplateInput & { file?: Buffer };
        if (isMultipart(req)) {
          const upload = await readTemplateUpload(req, templates.maxBytes);
          const meta = parseInput(TemplateMeta, upload.meta, '$.meta', 'the meta part');
          if (!upload.file && isDocumentType(meta.renderType))
            throw new EngineError('invalid', 'the template file is missing', [
              { path: '$.template', message: `a ${meta.renderType} template needs a "template" file part` },
            ]);
          input = { ...meta, ...(upload.file ? { file: upload.file } : {}) };
        } else {
          input = parseInput(TemplateInput, bodyOf(req.body));
        }
        // TemplateSyntaxError and TemplateTooLarge carry their kinds (invalid, too_large).
        const saved = await templates.put(name, input);
        res
          .status(saved.created ? 201 : 200)
          .location(`/api/templates/${name}`)
          .json(saved.template);
      },
  )
  .add(
    {
      method: 'post',
      path: '/api/templates/{name}/preview',
      summary: 'Render a template against a sample model (admin, designer)',
      tags,
      params: ByName,
      // Parsed by the handler, after the role check.
      bodyDoc: { required: true, content: { 'application/json': PreviewInput } },
      responses: {
        200: {
          description: 'text/html templates: the subject and body; document templates: the rendered file',
          content: { 'application/json': PreviewResult, 'application/octet-stream': { type: 'string' } },
        },
      },
      problems: [403, 404],
    },
    ({ templates, authz }) =>
      async ({ params: { name } }, req, res) => {
        authz.design(principalOf(res), 'templates');
        const { model } = parseInput(PreviewInput, bodyOf(req.body) ?? {});
        const template = await templates.get(name);
        if (!template) throw new EngineError('not_found', `template ${name} does not exist`);
        try {
          if (isDocumentType(template.renderType)) {
            const doc = await templates.renderDocument(name, model);
            return sendFile(res, doc.bytes, doc.fileName, doc.contentType);
          }
          const out = await templates.render(name, template.renderType, model);
          res.json({ ...(out.subject !== undefined ? { subject: out.subject } : {}), body: out.body, format: template.renderType });
        } catch (err) {
          // A render failure fails a step in a run; here it is the sample model's fault.
          if (err instanceof NonRetryableError)
            throw new EngineError('invalid', 'the template cannot be rendered with this model', [
              { path: '$.model', message: err.message },
            ]);
          throw err;
        }
      },
  );
