import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { registerErrorHandler } from './errors';
import { registerJsonBodies } from './json-body';
import { registerOpenApi } from './openapi';
import { registerAllowedHosts } from './plugins/allowed-hosts';
import { registerAuth, type AuthOptions } from './plugins/auth';
import { registerMetrics, type ApiMetrics } from './plugins/metrics';
import { kafkaCheck, registerReadiness, registryCheck, temporalCheck } from './plugins/readiness';
import { registerTemporal } from './plugins/temporal';
import { aliasRoutes } from './routes/aliases';
import { deploymentRoutes } from './routes/deployments';
import { lifecycleRoutes, type LifecycleRouteOptions } from './routes/lifecycles';
import { modelRoutes, type RegistryRouteOptions } from './routes/models';
import { monitoringRoutes, type MonitoringRouteOptions } from './routes/monitoring';
import { pipelineRoutes, type PipelineRouteOptions } from './routes/pipelines';
import { runRoutes } from './routes/runs';
import { healthSchema } from './schemas/health';

export interface AppOptions
  extends
    LifecycleRouteOptions,
    RegistryRouteOptions,
    Pick<MonitoringRouteOptions, 'artifacts'>,
    Omit<PipelineRouteOptions, 'registry' | 'controlTaskQueue' | 'streamTaskQueue'> {
  temporal: Client;
  /** Who may call the API: there is no way to build it without tokens. */
  auth: AuthOptions;
  logger?: FastifyServerOptions['logger'];
  /** `/readyz`: Temporal and the registry always; Kafka when its brokers are given. */
  readiness?: { kafkaBrokers?: readonly string[]; timeoutMs?: number };
  /** A fresh registry of series by default. */
  metrics?: ApiMetrics;
}

/** Builds the HTTP API without listening, so tests drive it with `inject`. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    // Unique across restarts and instances: 5xx answers name the request to look up in the log.
    genReqId: () => randomUUID(),
    // Report every schema problem's field, not only the first one ajv meets.
    ajv: { customOptions: { allErrors: false, removeAdditional: false, coerceTypes: false, useDefaults: true } },
  });
  registerErrorHandler(app);
  // Before any route: the host and token checks run first on every request, unknown paths included.
  registerAllowedHosts(app, opts.auth.allowedHosts);
  registerAuth(app, opts.auth);
  // Before any route, so the document sees every one.
  await registerOpenApi(app);
  registerMetrics(app, opts.metrics);
  registerJsonBodies(app);
  registerTemporal(app, opts.temporal);
  app.get('/healthz', { config: { public: true }, schema: healthSchema }, async () => ({ ok: true }));
  const kafka = opts.readiness?.kafkaBrokers;
  registerReadiness(app, {
    checks: [temporalCheck(opts.temporal), ...(kafka ? [kafkaCheck(kafka)] : []), registryCheck(opts.registry)],
    timeoutMs: opts.readiness?.timeoutMs ?? 2000,
  });
  await app.register(lifecycleRoutes(opts));
  await app.register(modelRoutes(opts));
  await app.register(aliasRoutes(opts));
  await app.register(runRoutes(opts));
  await app.register(deploymentRoutes(opts));
  await app.register(monitoringRoutes(opts));
  await app.register(pipelineRoutes(opts));
  return app;
}
