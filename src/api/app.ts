/** The express app: JSON API, health endpoints, Bull Board; every error becomes problem+json. */
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import type { NotifyServices } from '../notify/index.ts';
import { adminSession } from './admin-session.ts';
import { requireKey } from './auth.ts';
import { authFailureLimiter } from './auth-failures.ts';
import { safeJsonBody } from './body.ts';
import { principalRateLimit } from './rate-limit.ts';
import { Authz } from './authz.ts';
import { BOARD_PATH } from './bull-board.ts';
import type { ApiEngine, ApiInfrastructure, DataflowRegistryPort } from './ports.ts';
import type { PrincipalRegistry } from './principals.ts';
import { errorHandler, sendProblem } from './problem.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { openApiRoutes } from './openapi.ts';
import { dataflowRoutes } from './routes/dataflows.ts';
import { principalRoutes, whoamiRoutes } from './routes/principals.ts';
import { documentRoutes } from './routes/documents.ts';
import { lintOptions } from './lint-options.ts';
import { linkRoutes } from './routes/links.ts';
import { meRoutes } from './routes/me.ts';
import { entryRoutes, operationRoutes, runRoutes, taskRoutes } from './routes/runs.ts';
import { templateBodyParser, templateRoutes } from './routes/templates.ts';
import { workflowRoutes } from './routes/workflows.ts';
import { stepTypeRoutes } from './routes/step-types.ts';
import { webRoutes } from '../web/routes.ts';

export interface AppOptions {
  /** The run, workflow, link and health services (an Engine). */
  engine: ApiEngine;
  /** Stores, Bull Board and secrets the wiring builds (src/services.ts apiInfrastructure). */
  infra: ApiInfrastructure;
  dataflows: DataflowRegistryPort;
  principals: PrincipalRegistry;
  log: Logger;
  bodyLimit?: string | number;
  /** Requests per principal per minute on /api; 0 turns the limit off. */
  rateLimitPerMinute?: number;
  /** Failed authentications per client address per minute (/api and /admin); 0 turns the limit off. */
  authFailuresPerMinute?: number;
  /** Most runs one POST /api/workflows/{name}/runs/batch may hold. */
  batchMaxRuns?: number;
  /** When set, GET /metrics needs it as a bearer token. */
  metricsToken?: string;
  /** Marks the admin session cookie Secure (PUBLIC_URL is https). */
  secureCookies?: boolean;
  /** Templates, inbox and its live feed; without them /api/templates and /api/me are not mounted. */
  notify?: Pick<NotifyServices, 'templates' | 'inbox' | 'feed'> & Partial<Pick<NotifyServices, 'documents' | 'documentLinks'>>;
}

export function createApp({
  engine,
  infra,
  principals,
  log,
  bodyLimit = '1mb',
  notify,
  dataflows,
  secureCookies = false,
  metricsToken,
  rateLimitPerMinute = 1200,
  authFailuresPerMinute = 30,
  batchMaxRuns = 1000,
}: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // No weak ETag on JSON answers: a run changes step by step, no client revalidates against one,
  // and express would hash every answer body to make it (the web pages' static files keep theirs).
  app.set('etag', false);
  // Bull Board's UI loads inline scripts; the JSON API has no use for a CSP beyond the default.
  // The web pages set their own strict CSP (src/web/routes.ts).
  app.use(helmet({ contentSecurityPolicy: false }));
  // The API first: its paths are disjoint from every other router's, so a start or a step answer
  // does not walk the page, health, metrics and board routers' layers before reaching its own.
  const failures = authFailureLimiter(infra.authFailures, authFailuresPerMinute);
  const auth = requireKey(principals, failures);
  const admin = adminSession({ registry: principals, secret: infra.linkSecret, secureCookie: secureCookies, failures });

  const api = express.Router();
  api.use(auth);
  api.use(principalRateLimit(infra.rateLimitStore, rateLimitPerMinute));
  // Template uploads carry files as base64: their router reads its own, larger JSON bodies first.
  if (notify) api.use('/templates', ...templateBodyParser(notify.templates.maxBytes));
  api.use(express.json({ limit: bodyLimit, strict: false, type: ['application/json', 'application/*+json'] }));
  api.use(safeJsonBody);
  const authz = new Authz(engine);
  api.use('/me', whoamiRoutes.router());
  api.use('/step-types', stepTypeRoutes.router());
  const lint = lintOptions({ dataflows, principals, ...(notify ? { templates: notify.templates } : {}) });
  api.use('/workflows', workflowRoutes.router({ engine, authz, lint, batchMaxRuns }));
  api.use('/runs', runRoutes.router({ engine, authz }));
  api.use('/operations', operationRoutes.router({ engine, authz }));
  api.use('/entries', entryRoutes.router({ engine, authz }));
  api.use('/tasks', taskRoutes.router({ engine, authz }));
  api.use('/dataflows', dataflowRoutes.router({ registry: dataflows, engine, authz }));
  api.use('/principals', principalRoutes.router(principals));
  if (notify) {
    api.use('/templates', templateRoutes.router({ templates: notify.templates, authz }));
    api.use(
      '/me',
      meRoutes.router({ inbox: notify.inbox, feed: notify.feed, log, ...(notify.documents ? { documents: notify.documents } : {}) }),
    );
  }
  app.use('/api', api);
  app.use(webRoutes());
  // Every route comes from its declaration (src/api/route.ts), which also feeds /openapi.json.
  app.use(healthRoutes.router(engine));
  app.use(metricsRoutes.router({ metrics: infra.metrics, ...(metricsToken ? { token: metricsToken } : { token: undefined }) }));
  app.use(openApiRoutes.router());

  app.use('/confirm', linkRoutes.router(engine));
  if (notify?.documents && notify.documentLinks) {
    app.use('/documents', documentRoutes.router({ documents: notify.documents, links: notify.documentLinks }));
  }
  app.use('/admin', admin.routes);
  app.use(BOARD_PATH, admin.guard, infra.board);

  app.use((req, res) => sendProblem(res, 404, `no route ${req.method} ${req.path}`));
  app.use(errorHandler(log));
  return app;
}
