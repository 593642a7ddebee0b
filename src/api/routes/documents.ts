/**
 * /documents/<token>: a rendered document behind a signed, expiring link (webhook payloads carry
 * these; the receiver has no API key). The token is checked with HMAC and expiry before Redis
 * is read; an expired document (past the run's retention) is gone.
 */
import { EngineError } from '../../engine/errors.ts';
import { Router } from 'express';
import type { DocumentLinks } from '../../notify/document-links.ts';
import type { DocumentStore } from '../../notify/documents.ts';

const TOKEN = /^[A-Za-z0-9_-]{1,1024}\.[A-Za-z0-9_-]{43}$/;

export function documentRoutes(documents: DocumentStore, links: DocumentLinks): Router {
  const r = Router();
  r.get('/:token', async (req, res) => {
    const token = req.params.token;
    const check = TOKEN.test(token) ? await links.check(token) : ({ ok: false, reason: 'malformed' } as const);
    if (!check.ok)
      throw check.reason === 'expired'
        ? new EngineError('gone', 'this download link has expired')
        : new EngineError('forbidden', 'this download link is not valid');
    const doc = await documents.get(check.claims.doc);
    if (!doc) throw new EngineError('gone', 'the document has expired with its run');
    res.status(200).attachment(doc.meta.fileName).type(doc.meta.contentType).set('Cache-Control', 'private, no-store').send(doc.bytes);
  });
  return r;
}
