/**
 * docker-compose.yml as an operator runs it: `docker-compose config` accepts it, the image's
 * commands are node on dist/ (no npm or tsx), and every secret and URL comes from the
 * environment (set them and they reach both api and worker; leave them out and nothing is baked in).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const bin = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0 ? 'docker-compose' : undefined;

const PASSED = {
  WEBHOOK_SECRET: 'whsec_sentinel-webhook-secret-1',
  LINK_SECRET: 'sentinel-link-secret-0123456789abcdef',
  METRICS_TOKEN: 'sentinel-metrics-token-0123',
  PUBLIC_URL: 'https://flows.sentinel.example',
  SMTP_URL: 'smtp://user:pw@mail.sentinel.example:587',
  MAIL_FROM: 'Flows <flows@sentinel.example>',
  EGRESS_ALLOWLIST: '10.9.0.0/16,hooks.sentinel.internal',
  NOTIFY_WEBHOOK_URL: 'https://hooks.sentinel.example/in',
  STAGEFLOW_API_KEYS: '[{"id":"sentinel","key":"sentinel-api-key-0123456789","roles":["admin"]}]',
};

function config(env: Record<string, string>, args: string[] = []): string {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !(k in PASSED) && k !== 'WORKER_HTTP_PORT'));
  const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...args, 'config'], { encoding: 'utf8', env: { ...clean, ...env } });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** The lines of one service in `docker-compose config` output (top-level keys are indented 2). */
function service(text: string, name: string): string {
  const start = text.indexOf(`\n  ${name}:\n`);
  expect(start).toBeGreaterThan(-1);
  const rest = text.slice(start + 1);
  const next = rest.slice(1).search(/\n {2}[a-z-]+:\n|\n[a-z]+:\n/);
  return next === -1 ? rest : rest.slice(0, next + 1);
}

describe.runIf(bin)('docker-compose.yml', () => {
  it('passes docker-compose config, runs node on dist/, with init and a worker healthcheck', () => {
    const text = config({});
    const api = service(text, 'api');
    const worker = service(text, 'worker');
    expect(api).toMatch(/command:\n\s+- node\n\s+- dist\/src\/main\.js\n\s+- --role=api/);
    expect(worker).toMatch(/command:\n\s+- node\n\s+- dist\/workers\/worker\.js/);
    for (const s of [api, worker]) {
      expect(s).toMatch(/init: true/);
      expect(s).not.toMatch(/\bnpm\b|\btsx\b/);
    }
    expect(worker).toMatch(/WORKER_HTTP_PORT: '9100'/);
    expect(worker).toMatch(/healthcheck:[\s\S]*\/readyz/);
    expect(service(text, 'redis')).toMatch(/- --maxmemory-policy\n\s+- noeviction/);
  });

  it('passes every secret and URL through the environment to api and worker, and bakes none in', () => {
    const set = config(PASSED);
    for (const name of ['api', 'worker']) {
      const s = service(set, name);
      // YAML quotes a value only when it must
      for (const [k, v] of Object.entries(PASSED))
        expect(s, `${name} ${k}`).toMatch(new RegExp(`${k}: '?${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'?\n`));
    }
    const unset = config({});
    for (const v of Object.values(PASSED)) expect(unset).not.toContain(v);
    for (const k of ['WEBHOOK_SECRET', 'LINK_SECRET', 'METRICS_TOKEN', 'SMTP_URL', 'EGRESS_ALLOWLIST'])
      expect(service(unset, 'worker')).toMatch(new RegExp(`${k}: ''`));
  });

  it('has a cluster profile: six cluster nodes and a one-shot init making 3 primaries with a replica each', () => {
    const text = config({}, ['--profile', 'cluster']);
    // Service names carry digits, which service() does not expect as a block end.
    const block = (name: string) => {
      const start = text.indexOf(`\n  ${name}:\n`);
      expect(start, name).toBeGreaterThan(-1);
      const rest = text.slice(start + 1);
      const next = rest.slice(1).search(/\n {2}[a-z0-9-]+:\n|\n[a-z]+:\n/);
      return next === -1 ? rest : rest.slice(0, next + 1);
    };
    const hosts = new Set<string>();
    for (let i = 1; i <= 6; i++) {
      const node = block(`redis-node-${i}`);
      expect(node).toMatch(/- cluster\n/);
      expect(node).toMatch(/--cluster-enabled yes/);
      expect(node).toMatch(/--maxmemory-policy\s+noeviction/);
      expect(node).toMatch(/--appendonly yes/);
      expect(node).toMatch(new RegExp(`- redis-node-${i}:/data`));
      hosts.add(/hostname: (\S+)/.exec(node)?.[1] ?? '');
    }
    expect(hosts.size).toBe(6);
    const init = block('redis-cluster-init');
    expect(init).toMatch(/- cluster\n/);
    expect(init).toMatch(/restart: 'no'|restart: "no"|restart: no/);
    const create = init.replace(/\s+/g, ' ');
    expect(create).toMatch(/redis-cli --cluster create( redis-node-\d:6379){6} --cluster-replicas 1 --cluster-yes/);
    for (let i = 1; i <= 6; i++) expect(init).toMatch(new RegExp(`redis-node-${i}:\\s+condition: service_healthy`));
    // the default stack is unchanged: the api still talks to REDIS_URL, not the cluster
    expect(service(text, 'api')).toMatch(/REDIS_URL: /);
    expect(service(text, 'api')).not.toMatch(/REDIS_CLUSTER_NODES/);
  });
});
