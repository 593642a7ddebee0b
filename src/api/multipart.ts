/**
 * Reads a template upload sent as multipart/form-data (busboy): one `template` file part and a
 * `meta` part holding the rest of the registration as JSON. A file past `maxBytes` stops the
 * read with a 413 instead of buffering it; anything else malformed is a 400 naming the part.
 */
import busboy from 'busboy';
import type { Request } from 'express';
import { EngineError } from '../engine/errors.ts';

const invalid = (message: string, errors: Array<{ path: string; message: string }>) => new EngineError('invalid', message, errors);

export class UploadTooLarge extends EngineError {
  constructor(readonly limit: number) {
    super('too_large', `the template file is larger than ${limit} bytes (TEMPLATE_MAX_BYTES)`);
  }
}

export function isMultipart(req: Request): boolean {
  return req.is('multipart/form-data') === 'multipart/form-data';
}

export function readTemplateUpload(req: Request, maxBytes: number): Promise<{ meta: unknown; file?: Buffer }> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1, fields: 4, fileSize: maxBytes, fieldSize: 1024 * 1024, parts: 5 } });
    } catch (err) {
      return reject(invalid('the multipart body is malformed', [{ path: '$', message: (err as Error).message }]));
    }
    let meta: unknown = {};
    let file: Buffer | undefined;
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      req.unpipe(bb);
      req.resume();
      reject(err);
    };
    bb.on('field', (name, value) => {
      if (name !== 'meta')
        return fail(
          invalid('unknown multipart part', [
            { path: `$.${name}`, message: 'only the parts "meta" (JSON) and "template" (the file) are read' },
          ]),
        );
      try {
        meta = JSON.parse(value);
      } catch {
        fail(
          invalid('the meta part is not JSON', [
            { path: '$.meta', message: 'must be a JSON object with renderType, fileName?, subject?, body?' },
          ]),
        );
      }
    });
    bb.on('file', (name, stream) => {
      if (name !== 'template') {
        stream.resume();
        return fail(invalid('unknown multipart part', [{ path: `$.${name}`, message: 'the file part must be named "template"' }]));
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => fail(new UploadTooLarge(maxBytes)));
      stream.on('end', () => {
        file = Buffer.concat(chunks);
      });
    });
    bb.on('filesLimit', () => fail(invalid('too many files', [{ path: '$.template', message: 'send one "template" file' }])));
    bb.on('error', (err: Error) => fail(invalid('the multipart body is malformed', [{ path: '$', message: err.message }])));
    bb.on('close', () => {
      if (!failed) resolve({ meta, ...(file ? { file } : {}) });
    });
    req.pipe(bb);
  });
}
