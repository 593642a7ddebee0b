import { describe, expect, it } from 'vitest';
import { DocumentLinks } from '../../src/notify/document-links.ts';

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('document links', () => {
  const links = new DocumentLinks(
    async () => 'a-secret-for-tests-0123456789-abcdef',
    (p) => `http://x.test${p}`,
  );

  it('accept the token they issued and refuse a changed payload', async () => {
    const token = (await links.url({ doc: 'd1', exp: Date.now() + 60_000 })).split('/documents/')[1]!;
    expect((await links.check(token)).ok).toBe(true);
    const [payload, mac] = token.split('.');
    const other = Buffer.from(JSON.stringify({ doc: 'd2', exp: Date.now() + 60_000 })).toString('base64url');
    expect(await links.check(`${other}.${mac}`)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(payload).toBeTruthy();
  });

  it('refuse every other spelling of the signature, including last letters that decode to the same bytes', async () => {
    const token = (await links.url({ doc: 'd1', exp: Date.now() + 60_000 })).split('/documents/')[1]!;
    const last = token.at(-1)!;
    // A 32-byte HMAC is 43 base64url letters; the last one's two low bits are spare, so the
    // letters that differ from it only there decode to the same signature.
    const sameBytes = [1, 2, 3].map((d) => B64URL[B64URL.indexOf(last) ^ d]!);
    for (const c of sameBytes) {
      const forged = token.slice(0, -1) + c;
      expect(Buffer.from(forged.split('.')[1]!, 'base64url')).toEqual(Buffer.from(token.split('.')[1]!, 'base64url'));
      expect(await links.check(forged)).toEqual({ ok: false, reason: 'bad_signature' });
    }
  });
});
