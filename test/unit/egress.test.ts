/** The egress policy's pure parts: address classes, literal URLs, the allowlist, the lookup. */
import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { deniedAddress, egressLookup, egressRefusal, EgressError, parseAllowlist, urlProblem } from '../../src/http/egress.ts';

const strict = parseAllowlist('');

describe('urlProblem with the default policy', () => {
  // The SSRF cases a starter could put in callbackUrl, a webhook or an http dataflow.
  it.each([
    ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 \(link-local \(cloud metadata\)/],
    ['http://127.0.0.1:6379/', /127\.0\.0\.1 \(loopback/],
    ['http://[::1]/', /::1 \(loopback/],
    ['http://10.0.0.1/', /10\.0\.0\.1 \(private/],
    ['http://0.0.0.0/', /0\.0\.0\.0 \(unspecified/],
    ['http://2130706433/', /127\.0\.0\.1 \(loopback/],
    ['http://0x7f.1/', /127\.0\.0\.1 \(loopback/],
    ['http://[::ffff:127.0.0.1]/', /loopback \(IPv4-mapped\)/],
    ['http://[::ffff:a9fe:a9fe]/', /link-local \(cloud metadata\) \(IPv4-mapped\)/],
    ['http://172.16.5.4/', /private/],
    ['http://172.31.255.255/', /private/],
    ['http://192.168.1.1/', /private/],
    ['http://100.64.0.1/', /carrier-grade NAT/],
    ['http://[fd12::1]/', /unique local/],
    ['http://[fe80::1]/', /link-local/],
    ['http://[::]/', /unspecified/],
    ['http://localhost:8080/', /localhost \(loopback\)/],
    ['http://api.localhost/', /loopback/],
    ['ftp://example.com/', /http\(s\)/],
  ])('refuses %s', (url, why) => {
    const problem = urlProblem(url, strict);
    expect(problem).toMatch(why);
    if (!url.startsWith('ftp')) expect(problem).toMatch(/EGRESS_ALLOWLIST/);
  });

  it.each(['https://hooks.example.com/x', 'http://8.8.8.8/', 'http://172.32.0.1/', 'http://100.128.0.1/', 'http://[2001:db8::1]/'])(
    'allows %s',
    (url) => {
      expect(urlProblem(url, strict)).toBeUndefined();
    },
  );
});

describe('EGRESS_ALLOWLIST', () => {
  const policy = parseAllowlist(' 127.0.0.1 , 10.0.0.0/8,hooks.internal, fd00::/8 ');
  it('allows listed addresses, CIDRs (also IPv4-mapped) and hosts, and nothing next to them', () => {
    expect(urlProblem('http://127.0.0.1:9000/', policy)).toBeUndefined();
    expect(urlProblem('http://[::ffff:127.0.0.1]/', policy)).toBeUndefined();
    expect(urlProblem('http://10.200.1.2/', policy)).toBeUndefined();
    expect(urlProblem('http://[fd00::5]/', policy)).toBeUndefined();
    expect(urlProblem('http://HOOKS.internal/x', policy)).toBeUndefined();
    expect(urlProblem('http://127.0.0.2/', policy)).toMatch(/loopback/);
    expect(urlProblem('http://169.254.169.254/', policy)).toMatch(/link-local/);
    expect(deniedAddress('::1', policy)).toBe('loopback');
  });

  it('refuses entries that are not hosts, addresses or CIDRs', () => {
    expect(() => parseAllowlist('10.0.0.0/33')).toThrow(/not an address or CIDR/);
    expect(() => parseAllowlist('10.0.0.0/8/1')).toThrow(/not an address or CIDR/);
    expect(() => parseAllowlist('under_score host')).toThrow(/not a host name/);
    expect(() => parseAllowlist('host/8')).toThrow(/not a host name/);
  });
});

describe('egressLookup (connect time)', () => {
  const fakeDns = (answers: Record<string, string[]>) =>
    ((host: string, _opts: unknown, cb: (err: NodeJS.ErrnoException | null, a: LookupAddress[]) => void) => {
      const list = answers[host];
      if (!list) return cb(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' }), []);
      cb(
        null,
        list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
      );
    }) as never;

  const lookup =
    (policy = strict) =>
    (host: string, all = false) =>
      new Promise<{ err: Error | null; address: unknown }>((resolve) =>
        egressLookup(
          policy,
          fakeDns({
            'rebind.example': ['93.184.216.34', '127.0.0.1'],
            'good.example': ['93.184.216.34'],
            'meta.example': ['169.254.169.254'],
            'hooks.internal': ['10.1.2.3'],
          }),
        )(host, { all }, (err, address) => resolve({ err, address })),
      );

  it('refuses a name with any denied address (DNS rebinding), naming the address', async () => {
    const { err } = await lookup()('rebind.example');
    expect(err).toBeInstanceOf(EgressError);
    expect(err?.message).toMatch(/rebind\.example \(127\.0\.0\.1\) refused: loopback/);
    expect(egressRefusal(new TypeError('fetch failed', { cause: err }))).toBe(err);
    expect((await lookup()('meta.example')).err?.message).toMatch(/cloud metadata/);
  });

  it('passes public answers through in both lookup shapes, and an allowlisted name whatever it resolves to', async () => {
    expect(await lookup()('good.example')).toEqual({ err: null, address: '93.184.216.34' });
    expect(await lookup()('good.example', true)).toEqual({ err: null, address: [{ address: '93.184.216.34', family: 4 }] });
    expect((await lookup()('hooks.internal')).err).toBeInstanceOf(EgressError);
    expect(await lookup(parseAllowlist('hooks.internal'))('hooks.internal')).toEqual({ err: null, address: '10.1.2.3' });
  });
});
