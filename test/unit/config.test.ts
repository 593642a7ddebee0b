import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configDocs, configDocsMarkdown, loadConfig } from '../../config/schema.ts';

function issuesOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('reads WORKER_PARTITIONS as a sorted set of partitions, ranges included', () => {
    expect(loadConfig({ WORKER_PARTITIONS: '5-7, 0,3,6', STAGEFLOW_PARTITIONS: '24' })).toMatchObject({
      partitions: 24,
      worker: { partitions: [0, 3, 5, 6, 7] },
    });
  });

  it('applies every default to an empty environment', () => {
    expect(loadConfig({})).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      redisCluster: undefined,
      redisWaitReplicas: 'auto',
      redisWaitTimeoutMs: 1_000,
      port: 3000,
      prefix: 'sf',
      partitions: 12,
      worker: { concurrency: 20, partitions: undefined, lockDurationMs: 30_000, stalledIntervalMs: 30_000, maxStalledCount: 3 },
      maxTransitions: 10_000,
      runRetentionDays: 30,
      modelMaxBytes: 262_144,
      idempotencyTtlHours: 24,
      reconcileIntervalMs: 15_000,
      shutdownTimeoutMs: 10_000,
      nodeEnv: 'development',
      isProduction: false,
      apiKeys: undefined,
      logLevel: 'info',
      dataDir: path.resolve('./data'),
      notify: { smtpUrl: undefined, mailFrom: 'stageflow@localhost', webhookSecret: undefined, webhookUrl: undefined },
      publicUrl: 'http://localhost:3000',
      linkSecret: undefined,
      bodyLimitBytes: 1_048_576,
      templateMaxBytes: 5_242_880,
      rateLimitPerMinute: 1200,
      authFailuresPerMinute: 30,
      metricsToken: undefined,
      workerHttpPort: undefined,
      egressAllowlist: undefined,
    });
  });

  it('maps every variable to its camelCase field', () => {
    const config = loadConfig({
      REDIS_URL: 'rediss://user:pw@redis.example:6380/2',
      REDIS_CLUSTER_NODES: 'redis-a:7000,10.0.0.2:7001',
      REDIS_WAIT_REPLICAS: '2',
      REDIS_WAIT_TIMEOUT_MS: '250',
      PORT: '8080',
      STAGEFLOW_PREFIX: 'tenant_a-1',
      STAGEFLOW_PARTITIONS: '24',
      WORKER_PARTITIONS: '1,4-5',
      WORKER_CONCURRENCY: '50',
      WORKER_LOCK_DURATION_MS: '1000',
      WORKER_STALLED_INTERVAL_MS: '500',
      WORKER_MAX_STALLED_COUNT: '0',
      MAX_TRANSITIONS: '42',
      RUN_RETENTION_DAYS: '7',
      MODEL_MAX_BYTES: '2048',
      IDEMPOTENCY_TTL_HOURS: '1',
      RECONCILE_INTERVAL_MS: '250',
      SHUTDOWN_TIMEOUT_MS: '0',
      NODE_ENV: 'production',
      STAGEFLOW_API_KEYS: '[{"id":"a","key":"k","roles":["admin"]}]',
      LOG_LEVEL: 'debug',
      STAGEFLOW_DATA_DIR: '/var/lib/stageflow',
      SMTP_URL: 'smtps://mailer:pw@smtp.example:465',
      MAIL_FROM: 'Stageflow <flows@example.com>',
      WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      NOTIFY_WEBHOOK_URL: 'https://hooks.example/stageflow',
      PUBLIC_URL: 'https://flows.example/app/',
      LINK_SECRET: 'link-secret-0123456789-0123456789-xyz',
      BODY_LIMIT_BYTES: '2048',
      TEMPLATE_MAX_BYTES: '4096',
      RATE_LIMIT_PER_MINUTE: '0',
      AUTH_FAILURES_PER_MINUTE: '7',
      METRICS_TOKEN: 'metrics-token-0123456789',
    });
    expect(config).toEqual({
      redisUrl: 'rediss://user:pw@redis.example:6380/2',
      redisCluster: {
        nodes: [
          { host: 'redis-a', port: 7000 },
          { host: '10.0.0.2', port: 7001 },
        ],
        username: undefined,
        password: undefined,
        tls: false,
      },
      redisWaitReplicas: 2,
      redisWaitTimeoutMs: 250,
      port: 8080,
      prefix: 'tenant_a-1',
      partitions: 24,
      worker: { concurrency: 50, partitions: [1, 4, 5], lockDurationMs: 1000, stalledIntervalMs: 500, maxStalledCount: 0 },
      maxTransitions: 42,
      runRetentionDays: 7,
      modelMaxBytes: 2048,
      idempotencyTtlHours: 1,
      reconcileIntervalMs: 250,
      shutdownTimeoutMs: 0,
      nodeEnv: 'production',
      isProduction: true,
      apiKeys: '[{"id":"a","key":"k","roles":["admin"]}]',
      logLevel: 'debug',
      dataDir: '/var/lib/stageflow',
      notify: {
        smtpUrl: 'smtps://mailer:pw@smtp.example:465',
        mailFrom: 'Stageflow <flows@example.com>',
        webhookSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        webhookUrl: 'https://hooks.example/stageflow',
      },
      publicUrl: 'https://flows.example/app',
      linkSecret: 'link-secret-0123456789-0123456789-xyz',
      bodyLimitBytes: 2048,
      templateMaxBytes: 4096,
      rateLimitPerMinute: 0,
      authFailuresPerMinute: 7,
      metricsToken: 'metrics-token-0123456789',
    });
  });

  it('treats empty and blank values as unset and trims the rest', () => {
    const config = loadConfig({ PORT: '', STAGEFLOW_API_KEYS: '   ', WORKER_CONCURRENCY: ' 7 ' });
    expect(config.port).toBe(3000);
    expect(config.apiKeys).toBeUndefined();
    expect(config.worker.concurrency).toBe(7);
  });

  it('ignores variables it does not own', () => {
    expect(() => loadConfig({ HOME: '/root', FOO: 'x' })).not.toThrow();
  });

  it.each([
    ['REDIS_URL', 'http://localhost:6379', /redis:\/\/ or rediss:\/\//],
    ['REDIS_URL', 'not a url', /URL/],
    ['REDIS_WAIT_REPLICAS', 'some', /auto or an integer from 0 to 16/],
    ['REDIS_WAIT_REPLICAS', '17', /auto or an integer from 0 to 16/],
    ['REDIS_WAIT_TIMEOUT_MS', '0', /integer from 1 to 4000/],
    ['PORT', 'abc', /integer from 0 to 65535/],
    ['PORT', '65536', /integer from 0 to 65535/],
    ['PORT', '30.5', /integer/],
    ['PORT', '-1', /integer/],
    ['STAGEFLOW_PREFIX', 'has:colon', /1-32 characters/],
    ['STAGEFLOW_PREFIX', 'x'.repeat(33), /1-32 characters/],
    ['STAGEFLOW_PREFIX', '{bull}', /1-32 characters/],
    ['WORKER_CONCURRENCY', '0', /from 1 to 1000/],
    ['STAGEFLOW_PARTITIONS', '0', /from 1 to 256/],
    ['STAGEFLOW_PARTITIONS', '257', /from 1 to 256/],
    ['WORKER_PARTITIONS', '3,x', /not a partition number or range/],
    ['WORKER_PARTITIONS', '7-5', /not a partition number or range/],
    ['WORKER_PARTITIONS', '0-256', /not a partition number or range/],
    ['WORKER_CONCURRENCY', '1001', /from 1 to 1000/],
    ['WORKER_LOCK_DURATION_MS', '10', /integer/],
    ['WORKER_STALLED_INTERVAL_MS', 'soon', /integer/],
    ['WORKER_MAX_STALLED_COUNT', '-2', /integer/],
    ['MAX_TRANSITIONS', '0', /integer/],
    ['RUN_RETENTION_DAYS', '0', /integer/],
    ['MODEL_MAX_BYTES', '10', /integer from 1024/],
    ['IDEMPOTENCY_TTL_HOURS', '0', /integer from 1 to 8760/],
    ['RECONCILE_INTERVAL_MS', '1e3', /integer/],
    ['SHUTDOWN_TIMEOUT_MS', 'ten', /integer/],
    ['NODE_ENV', 'prod', /development, production, test/],
    ['LOG_LEVEL', 'verbose', /fatal, error, warn, info, debug, trace, silent/],
    ['MAIL_FROM', 'not an address', /e-mail address/],
    ['NOTIFY_WEBHOOK_URL', 'ftp://hooks.example', /http/],
    ['PUBLIC_URL', 'localhost:3000', /http/],
    ['WORKER_HTTP_PORT', '70000', /integer from 0 to 65535/],
    ['WORKER_HTTP_PORT', 'any', /integer from 0 to 65535/],
    ['EGRESS_ALLOWLIST', '10.0.0.0/33', /not an address or CIDR/],
    ['EGRESS_ALLOWLIST', 'hooks.internal,bad host', /not a host name/],
  ])('names %s=%j in the error', (name, value, reason) => {
    const error = issuesOf({ [name]: value });
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.name).toBe(name);
    expect(error.issues[0]?.reason).toMatch(reason);
    expect(error.message).toContain(name);
    expect(error.message).toContain(JSON.stringify(value));
  });

  it('lists every bad variable at once, one line each', () => {
    const error = issuesOf({
      PORT: 'x',
      STAGEFLOW_PREFIX: 'a b',
      WORKER_CONCURRENCY: '0',
      LOG_LEVEL: 'loud',
      REDIS_URL: 'ftp://x',
      MAX_TRANSITIONS: '12',
    });
    expect(error.issues.map((i) => i.name).sort()).toEqual(
      ['LOG_LEVEL', 'PORT', 'REDIS_URL', 'STAGEFLOW_PREFIX', 'WORKER_CONCURRENCY'].sort(),
    );
    expect(error.message).toMatch(/^Invalid configuration \(5 problems\):/);
    for (const name of ['LOG_LEVEL', 'PORT', 'REDIS_URL', 'STAGEFLOW_PREFIX', 'WORKER_CONCURRENCY']) {
      expect(error.message).toMatch(new RegExp(`^  - ${name}: `, 'm'));
    }
  });
});

describe('REDIS_CLUSTER_NODES', () => {
  // Secret (entries may hold the password), so the value is never echoed; the reason is.
  it.each([
    ['redis-a', /host:port or a redis:\/\/ URL/],
    ['a:7000,,b:7001', /empty entry/],
    ['a:70000', /not 1-65535/],
    ['http://a:7000', /redis:\/\/ or rediss:\/\//],
    ['redis://a:7000/2', /database/],
    ['rediss://a:7000,redis://b:7001', /disagree/],
  ])('refuses %j and says why', (value, reason) => {
    const error = issuesOf({ REDIS_CLUSTER_NODES: value });
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.name).toBe('REDIS_CLUSTER_NODES');
    expect(error.issues[0]?.reason).toMatch(reason);
    expect(error.message).not.toContain(value);
  });

  it('takes the credentials and TLS of REDIS_URL-style entries for every node', () => {
    const { redisCluster } = loadConfig({
      REDIS_CLUSTER_NODES: ' rediss://app:p%40ss@cache-1.example:6380 , cache-2.example:6380,[::1]:7002',
    });
    expect(redisCluster).toEqual({
      nodes: [
        { host: 'cache-1.example', port: 6380 },
        { host: 'cache-2.example', port: 6380 },
        { host: '::1', port: 7002 },
      ],
      username: 'app',
      password: 'p@ss',
      tls: true,
    });
  });

  it('accepts a password without a user, like REDIS_URL', () => {
    const { redisCluster } = loadConfig({ REDIS_CLUSTER_NODES: 'redis://:pw@a:7000,redis://:pw@b:7001' });
    expect(redisCluster).toMatchObject({ username: undefined, password: 'pw', tls: false });
    expect(redisCluster?.nodes).toHaveLength(2);
  });
});

describe('configDocs', () => {
  const names = [
    'REDIS_URL',
    'REDIS_CLUSTER_NODES',
    'REDIS_WAIT_REPLICAS',
    'REDIS_WAIT_TIMEOUT_MS',
    'PORT',
    'STAGEFLOW_PREFIX',
    'STAGEFLOW_PARTITIONS',
    'WORKER_CONCURRENCY',
    'WORKER_PARTITIONS',
    'WORKER_LOCK_DURATION_MS',
    'WORKER_STALLED_INTERVAL_MS',
    'WORKER_MAX_STALLED_COUNT',
    'MAX_TRANSITIONS',
    'RUN_RETENTION_DAYS',
    'MODEL_MAX_BYTES',
    'IDEMPOTENCY_TTL_HOURS',
    'RECONCILE_INTERVAL_MS',
    'SHUTDOWN_TIMEOUT_MS',
    'NODE_ENV',
    'STAGEFLOW_API_KEYS',
    'LOG_LEVEL',
    'STAGEFLOW_DATA_DIR',
    'SMTP_URL',
    'MAIL_FROM',
    'WEBHOOK_SECRET',
    'NOTIFY_WEBHOOK_URL',
    'PUBLIC_URL',
    'LINK_SECRET',
    'TEMPLATE_MAX_BYTES',
    'BODY_LIMIT_BYTES',
    'RATE_LIMIT_PER_MINUTE',
    'AUTH_FAILURES_PER_MINUTE',
    'METRICS_TOKEN',
    'WORKER_HTTP_PORT',
    'EGRESS_ALLOWLIST',
  ];

  it('documents every variable with a description', () => {
    expect(configDocs.map((d) => d.name)).toEqual(names);
    for (const doc of configDocs) expect(doc.description.length).toBeGreaterThan(10);
  });

  it('states the defaults loadConfig actually applies', () => {
    const fromDocs = Object.fromEntries(configDocs.filter((d) => d.default !== undefined).map((d) => [d.name, d.default as string]));
    expect(loadConfig(fromDocs)).toEqual(loadConfig({}));
    expect(configDocs.find((d) => d.name === 'STAGEFLOW_API_KEYS')?.default).toBeUndefined();
  });

  it('renders a markdown table with one row per variable', () => {
    const table = configDocsMarkdown().split('\n');
    expect(table).toHaveLength(names.length + 2);
    expect(table[2]).toContain('`REDIS_URL`');
  });

  it('is the configuration table of the README, word for word', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(configDocsMarkdown());
  });

  it('never echoes a secret value in an error', () => {
    // STAGEFLOW_API_KEYS has no format rule here, so force an error elsewhere and check it is absent.
    const error = issuesOf({ STAGEFLOW_API_KEYS: 'super-secret-key', PORT: 'x' });
    expect(error.message).not.toContain('super-secret-key');
    const smtp = issuesOf({ SMTP_URL: 'http://user:hunter2@mail.example' });
    expect(smtp.issues[0]?.name).toBe('SMTP_URL');
    expect(smtp.message).not.toContain('hunter2');
    const cluster = issuesOf({ REDIS_CLUSTER_NODES: 'rediss://:hunter3@a:7000,redis://b:7001' });
    expect(cluster.issues[0]?.name).toBe('REDIS_CLUSTER_NODES');
    expect(cluster.message).not.toContain('hunter3');
    const secret = issuesOf({ WEBHOOK_SECRET: 'short-secret' });
    expect(secret.message).not.toContain('short-secret');
  });
});
