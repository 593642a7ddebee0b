import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * The cluster suite (`npm run test:cluster`; .ci/run runs it after `npm test`): the whole
 * integration suite and the chaos tests run again with STAGEFLOW_TEST_ON_CLUSTER=1, so every
 * test/helpers/harness.ts engine connects to the test Redis Cluster (the local one from
 * scripts/redis-cluster.sh, or TEST_REDIS_CLUSTER_NODES), and the stageflow processes a test
 * spawns get REDIS_CLUSTER_NODES (harness.ts redisEnv). Blocks that are single-Redis behaviour
 * inside a file that otherwise runs here skip themselves with `skipIf(onCluster)`.
 *
 * CLUSTER_SUITE and CLUSTER_EXCLUDED are the one place that says which files run there.
 */
export const CLUSTER_SUITE = ['test/integration/**/*.test.ts', 'test/chaos/**/*.test.ts'];

/** Files that cannot run on a cluster, or never touch the test Redis (they would run twice unchanged). */
export const CLUSTER_EXCLUDED = [
  // The embedded redis-server bootstrap and cleanupPrefix of one Redis: single-Redis only by design.
  'test/integration/redis-bootstrap.test.ts',
  // A single primary with a replica of its own (WAIT there); the cluster's counterpart is cluster-replication.test.ts.
  'test/integration/replication-ack.test.ts',
  // Start-up checks of a REDIS_URL against redis-servers it starts itself (the cluster's: cluster-connection.test.ts).
  'test/integration/redis-checks.test.ts',
  // Stops and restarts a single redis-server of its own under load (the cluster's: chaos/cluster-failover.test.ts).
  'test/chaos/redis-outage.test.ts',
  // No Redis at all: the compose files, the HTTP client, an engine pointed at a closed port.
  'test/integration/compose.test.ts',
  'test/integration/http-client.test.ts',
  'test/integration/engine-logging.test.ts',
];

// Not mergeConfig: it concatenates arrays, and the default suite's include/exclude must not apply.
export default defineConfig({
  test: {
    ...base.test,
    include: CLUSTER_SUITE,
    exclude: ['**/node_modules/**', ...CLUSTER_EXCLUDED],
    env: { ...base.test?.env, STAGEFLOW_TEST_ON_CLUSTER: '1' },
    // Failovers take seconds (node timeout 2 s, promotion in about 4-10 s on a loaded machine).
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
