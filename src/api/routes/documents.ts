/**
 * /documents/<token>: a rendered document behind a signed, expiring link (webhook payloads carry
 * these; the receiver has no API key). The token is checked with HMAC and expiry before Redis
 * is read; an expired document (past the run's retention) is gone.
 */
import { EngineError } from '../../engine/errors.ts';
import { z } from 'zod';
import type { DocumentLinks } from '../../notify/document-links.ts';
import type { DocumentStore } from '../../notify/documents.ts';
import { file } from '../responses.ts';
import { Routes } from '../route.ts';

const TOKEN = /^[A-Za-z0-9_-]{1,1024}\.[A-Za-z0-9_-]{43}$/;

export interface DocumentDeps {
  documents: DocumentStore;
  links: DocumentLinks;
}

export const documentRoutes = new Routes<DocumentDeps>('/documents').add(
  {
    method: 'get',
    path: '/documents/{token}',
    summary: 'Download a rendered document through a signed, expiring link (sent in webhook payloads)',
    tags: ['links'],
    access: 'open',
    // Checked by the handler: any malformed token is a 403 like a forged one.
    params: z.object({ token: z.string() }),
    responses: { 200: file('the document') },
    problems: [403, 410],
  },
  ({ documents, links }) =>
    async ({ params: { token } }, _req, res) => {
      const check = TOKEN.test(token) ? await links.check(token) : ({ ok: false, reason: 'malformed' } as const);
      if (!check.ok)
        throw check.reason === 'expired'
          ? new EngineError('gone', 'this download link has expired')
          : new EngineError('forbidden', 'this download link is not valid');
      const doc = await documents.get(check.claims.doc);
      if (!doc) throw new EngineError('gone', 'the document has expired with its run');
      res.status(200).attachment(doc.meta.fileName).type(doc.meta.contentType).set('Cache-Control', 'private, no-store').send(doc.bytes);
    },
);
