/** GET /metrics for Prometheus; behind METRICS_TOKEN when one is configured. */
import { timingSafeEqual } from 'node:crypto';
import { EngineError } from '../../engine/errors.ts';
import { bearerToken } from '../auth.ts';
import type { MetricsSource } from '../ports.ts';
import { sha256 } from '../principals.ts';
import { text } from '../responses.ts';
import { Routes } from '../route.ts';

export interface MetricsDeps {
  metrics: MetricsSource;
  token: string | undefined;
}

export const metricsRoutes = new Routes<MetricsDeps>('').add(
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    description: 'When METRICS_TOKEN is configured, send it as `Authorization: Bearer <METRICS_TOKEN>` (not an API key).',
    tags: ['operations'],
    access: 'open',
    responses: { 200: text('Prometheus text format', 'text/plain') },
    problems: [401],
  },
  ({ metrics, token }) => {
    const expected = token ? sha256(token) : undefined;
    return async (_input, req, res) => {
      if (expected) {
        const presented = bearerToken(req);
        if (!presented || !timingSafeEqual(sha256(presented), expected)) {
          res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
          throw new EngineError('unauthorized', 'send Authorization: Bearer <METRICS_TOKEN>');
        }
      }
      const { contentType, body } = await metrics.scrape();
      res.type(contentType).send(body);
    };
  },
);
