import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The Redis Cluster files run in the cluster suite (vitest.cluster.config.ts, npm run test:cluster).
    exclude: ['**/node_modules/**', 'test/**/cluster-*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Forks isolate each file's Redis connections and timers; two workers fit a 2-core CI
    // machine that also runs Redis, without timing-sensitive tests starving.
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
    env: {
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    },
  },
});
