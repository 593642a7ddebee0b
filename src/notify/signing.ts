/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
 * `${id}.${timestamp}.${body}`, sent as `webhook-id`, `webhook-timestamp` and
 * `webhook-signature: v1,<base64>`. Used for notification webhooks and run completion callbacks.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** Secrets may be given as `whsec_<base64>` (the spec's format) or as plain text. */
function secretBytes(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
}

export function sign(secret: string, id: string, timestampSec: number, body: string): SignedHeaders {
  const mac = createHmac('sha256', secretBytes(secret)).update(`${id}.${timestampSec}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(timestampSec), 'webhook-signature': `v1,${mac}` };
}

/** For receivers and tests: true when one of the signatures matches and the timestamp is fresh. */
export function verify(
  secret: string,
  headers: Record<string, string | undefined>,
  body: string,
  toleranceSec = 300,
  nowSec = Math.floor(Date.now() / 1000),
): boolean {
  const id = headers['webhook-id'];
  const ts = Number(headers['webhook-timestamp']);
  const sigs = headers['webhook-signature'];
  if (!id || !Number.isFinite(ts) || !sigs || Math.abs(nowSec - ts) > toleranceSec) return false;
  const expected = Buffer.from(sign(secret, id, ts, body)['webhook-signature']);
  return sigs.split(' ').some((s) => {
    const got = Buffer.from(s);
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}
