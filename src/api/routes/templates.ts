/**
 * /api/templates: register, read, list and preview message and document templates (designers
 * and admins write). A document template (docx, xlsx, pdf) is sent as JSON with its file as
 * base64 (pdf: the pdfmake definition) or as multipart/form-data with a `template` file part and
 * a `meta` JSON part; GET shows its tags, `/file` downloads what was uploaded.
 */
import express, { Router, type Response } from 'express';
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

export function templateRoutes(templates: TemplateStore, authz: Authz): Router {
  const r = Router();

  r.get('/', async (_req, res) => {
    res.json({ items: await templates.list() });
  });

  r.get('/:name', async (req, res) => {
    const name = parseInput(TemplateName, req.params.name, 'path.name');
    const template = await templates.get(name);
    if (!template) throw new EngineError('not_found', `template ${name} does not exist`);
    res.json(template);
  });

  r.get('/:name/file', async (req, res) => {
    const name = parseInput(TemplateName, req.params.name, 'path.name');
    const template = await templates.get(name);
    if (!template) throw new EngineError('not_found', `template ${name} does not exist`);
    const file = template.file ? await templates.file(name) : undefined;
    if (!template.file || !file)
      throw new EngineError('not_found', `template ${name} is a ${template.renderType} template and has no file`);
    const ext = template.renderType === 'pdf' ? 'json' : template.renderType;
    sendFile(res, file, `${name}.${ext}`, template.renderType === 'pdf' ? 'application/json' : template.file.contentType);
  });

  r.put('/:name', async (req, res) => {
    const name = parseInput(TemplateName, req.params.name, 'path.name');
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
  });

  r.post('/:name/preview', async (req, res) => {
    const name = parseInput(TemplateName, req.params.name, 'path.name');
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
        throw new EngineError('invalid', 'the template cannot be rendered with this model', [{ path: '$.model', message: err.message }]);
      throw err;
    }
  });

  return r;
}
