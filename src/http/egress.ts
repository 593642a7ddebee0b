/**
 * Egress policy for the URLs users hand stageflow (a start request's callbackUrl, webhook
 * targets, http dataflows): they may not reach loopback, private, link-local (cloud metadata),
 * CGNAT, unspecified or multicast addresses unless EGRESS_ALLOWLIST names the host or a CIDR.
 *
 * Checked twice: the literal URL when it is given (a clear 400 naming the field), and every
 * resolved address when a connection is made (a custom DNS lookup on the HTTP dispatcher), so a
 * name that resolves to 127.0.0.1 (`localhost`, DNS rebinding) cannot get around the first check.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent, buildConnector } from 'undici';

interface Range {
  net: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
  why: string;
}

/** What no outbound call may reach unless allowlisted. */
const DENIED: readonly Range[] = [
  { net: '0.0.0.0', prefix: 8, family: 'ipv4', why: 'unspecified' },
  { net: '10.0.0.0', prefix: 8, family: 'ipv4', why: 'private' },
  { net: '100.64.0.0', prefix: 10, family: 'ipv4', why: 'carrier-grade NAT' },
  { net: '127.0.0.0', prefix: 8, family: 'ipv4', why: 'loopback' },
  { net: '169.254.0.0', prefix: 16, family: 'ipv4', why: 'link-local (cloud metadata)' },
  { net: '172.16.0.0', prefix: 12, family: 'ipv4', why: 'private' },
  { net: '192.0.0.0', prefix: 24, family: 'ipv4', why: 'IETF protocol assignments' },
  { net: '192.168.0.0', prefix: 16, family: 'ipv4', why: 'private' },
  { net: '198.18.0.0', prefix: 15, family: 'ipv4', why: 'benchmarking' },
  { net: '224.0.0.0', prefix: 4, family: 'ipv4', why: 'multicast' },
  { net: '240.0.0.0', prefix: 4, family: 'ipv4', why: 'reserved' },
  { net: '::', prefix: 128, family: 'ipv6', why: 'unspecified' },
  { net: '::1', prefix: 128, family: 'ipv6', why: 'loopback' },
  { net: '64:ff9b::', prefix: 96, family: 'ipv6', why: 'NAT64 (maps IPv4)' },
  { net: 'fc00::', prefix: 7, family: 'ipv6', why: 'private (unique local)' },
  { net: 'fe80::', prefix: 10, family: 'ipv6', why: 'link-local' },
  { net: 'ff00::', prefix: 8, family: 'ipv6', why: 'multicast' },
];

export interface EgressPolicy {
  /** Host names (lower case) allowed whatever they resolve to. */
  hosts: ReadonlySet<string>;
  /** Addresses and CIDRs allowed although in a denied range. */
  allowed: BlockList;
  /** As configured, for messages. */
  source: string;
}

export class EgressError extends Error {
  readonly code = 'EGRESS_DENIED';
  constructor(message: string) {
    super(message);
    this.name = 'EgressError';
  }
}

/** Parses EGRESS_ALLOWLIST: comma-separated host names, IP addresses and CIDRs. Throws on a bad entry. */
export function parseAllowlist(text: string | undefined): EgressPolicy {
  const hosts = new Set<string>();
  const allowed = new BlockList();
  for (const raw of (text ?? '').split(',')) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    const [addr = '', bits, extra] = entry.split('/');
    const bare = addr.replace(/^\[|\]$/g, '');
    const family = isIP(bare);
    if (family) {
      const max = family === 4 ? 32 : 128;
      const prefix = bits === undefined ? max : Number(bits);
      if (extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) {
        throw new Error(`${raw.trim()} is not an address or CIDR (use e.g. 10.0.0.0/8 or fd00::/8)`);
      }
      allowed.addSubnet(bare, prefix, family === 4 ? 'ipv4' : 'ipv6');
    } else if (bits === undefined && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(entry)) {
      hosts.add(entry.replace(/\.$/, ''));
    } else {
      throw new Error(`${raw.trim()} is not a host name, address or CIDR`);
    }
  }
  return { hosts, allowed, source: text ?? '' };
}

const denied = new BlockList();
const byRange = DENIED.map((r) => {
  const one = new BlockList();
  one.addSubnet(r.net, r.prefix, r.family);
  denied.addSubnet(r.net, r.prefix, r.family);
  return { list: one, why: r.why };
});

/** The embedded IPv4 address of an IPv4-mapped (::ffff:a.b.c.d) or -compatible IPv6 address. */
function embeddedIpv4(ip: string): string | undefined {
  const m = /^::(?:ffff:(?:0:)?)?((?:[0-9a-f]{1,4}:[0-9a-f]{1,4})|(?:\d+\.\d+\.\d+\.\d+))$/i.exec(ip);
  if (!m?.[1]) return undefined;
  const tail = m[1];
  if (tail.includes('.')) return tail;
  const [hi = 0, lo = 0] = tail.split(':').map((h) => parseInt(h, 16));
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Why an IP address may not be reached (undefined: it may). */
export function deniedAddress(ip: string, policy: EgressPolicy): string | undefined {
  const bare = ip.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (!family) return 'not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (policy.allowed.check(bare, type)) return undefined;
  const v4 = family === 6 ? embeddedIpv4(bare.toLowerCase()) : undefined;
  if (v4 !== undefined) {
    if (policy.allowed.check(v4, 'ipv4')) return undefined;
    const inner = deniedAddress(v4, policy);
    return inner ? `${inner} (IPv4-mapped)` : undefined;
  }
  if (!denied.check(bare, type)) return undefined;
  return byRange.find((r) => r.list.check(bare, type))?.why ?? 'reserved';
}

/**
 * Why the literal URL may not be called (undefined: it may, as far as can be told before DNS).
 * WHATWG URL parsing already turns `http://2130706433/` and `http://0x7f.1/` into 127.0.0.1.
 */
export function urlProblem(url: string, policy: EgressPolicy): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an http(s) URL';
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (policy.hosts.has(host.replace(/\.$/, ''))) return undefined;
  // RFC 6761: these names are loopback wherever they resolve; say so now rather than at connect time.
  if (/(^|\.)localhost\.?$/.test(host)) return `may not target ${host} (loopback); list it in EGRESS_ALLOWLIST to allow it`;
  if (!isIP(host)) return undefined;
  const why = deniedAddress(host, policy);
  return why ? `may not target ${host} (${why} address); list it in EGRESS_ALLOWLIST to allow it` : undefined;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A dns.lookup that refuses names resolving to a denied address (every address must pass). */
export function egressLookup(policy: EgressPolicy, resolve: typeof dnsLookup = dnsLookup) {
  return (hostname: string, options: { all?: boolean; family?: number | string } | undefined, callback: LookupCallback): void => {
    const name = hostname.toLowerCase().replace(/\.$/, '');
    resolve(hostname, { ...options, all: true } as { all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const list = addresses as LookupAddress[];
      if (!policy.hosts.has(name)) {
        for (const a of list) {
          const why = deniedAddress(a.address, policy);
          if (why) return callback(refusal(hostname, a.address, why), []);
        }
      }
      if (options?.all) return callback(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}

function refusal(hostname: string, address: string, why: string): EgressError {
  return new EgressError(
    `egress to ${hostname} (${address}) refused: ${why} address; list the host or address in EGRESS_ALLOWLIST to allow it`,
  );
}

/** An undici Agent whose every connection passes the policy, for fetch's `dispatcher`. */
export function egressAgent(policy: EgressPolicy): Agent {
  const lookup = egressLookup(policy);
  const connect = buildConnector({ lookup: lookup as never, timeout: 10_000 });
  return new Agent({
    connect: (opts, callback) => {
      // Node does no lookup for an IP literal, so it is checked here.
      const host = opts.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) && !policy.hosts.has(host.toLowerCase())) {
        const why = deniedAddress(host, policy);
        if (why) return callback(refusal(opts.hostname, host, why), null);
      }
      connect(opts, callback);
    },
  });
}

// ---- the process's policy (set once at start from EGRESS_ALLOWLIST) ----

let current: { policy: EgressPolicy; agent: Agent } | undefined;

export function setEgressAllowlist(text: string | undefined): EgressPolicy {
  const policy = parseAllowlist(text);
  const previous = current;
  current = { policy, agent: egressAgent(policy) };
  void previous?.agent.close().catch(() => undefined);
  return policy;
}

export function egressPolicy(): EgressPolicy {
  return (current ??= { policy: parseAllowlist(''), agent: egressAgent(parseAllowlist('')) }).policy;
}

/** Why `url` may not be called under the process's policy (undefined: it may). */
export function egressProblem(url: string): string | undefined {
  return urlProblem(url, egressPolicy());
}

/** fetch through the process's egress policy. */
export const egressFetch: typeof fetch = (input, init) => {
  egressPolicy();
  return fetch(input, { ...init, dispatcher: current!.agent } as RequestInit);
};

/** The policy refusal behind a failed fetch (fetch wraps it as TypeError's cause), if that is what failed. */
export function egressRefusal(err: unknown): EgressError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof EgressError) return e;
  }
  return undefined;
}

/** A zod refinement: the URL passes the process's egress policy (the issue names the field). */
export function egressAllowed(url: string, ctx: { addIssue(issue: { code: 'custom'; message: string }): void }): void {
  const problem = egressProblem(url);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
}
