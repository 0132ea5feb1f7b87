import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { registerErrorHandler } from './errors';
import { registerJsonBodies } from './json-body';
import { registerAllowedHosts } from './plugins/allowed-hosts';
import { registerAuth, type AuthOptions } from './plugins/auth';
import { registerTemporal } from './plugins/temporal';
import { aliasRoutes } from './routes/aliases';
import { deploymentRoutes } from './routes/deployments';
import { lifecycleRoutes, type LifecycleRouteOptions } from './routes/lifecycles';
import { modelRoutes, type RegistryRouteOptions } from './routes/models';
import { runRoutes } from './routes/runs';

export interface AppOptions extends LifecycleRouteOptions, RegistryRouteOptions {
  temporal: Client;
  /** Who may call the API: there is no way to build it without tokens. */
  auth: AuthOptions;
  logger?: FastifyServerOptions['logger'];
}

/** Builds the HTTP API without listening, so tests drive it with `inject`. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    // Report every schema problem's field, not only the first one ajv meets.
    ajv: { customOptions: { allErrors: false, removeAdditional: false, coerceTypes: false, useDefaults: true } },
  });
  registerErrorHandler(app);
  // Before any route: the host and token checks run first on every request, unknown paths included.
  registerAllowedHosts(app, opts.auth.allowedHosts);
  registerAuth(app, opts.auth);
  registerJsonBodies(app);
  registerTemporal(app, opts.temporal);
  app.get('/healthz', { config: { public: true } }, async () => ({ ok: true }));
  await app.register(lifecycleRoutes(opts));
  await app.register(modelRoutes(opts));
  await app.register(aliasRoutes(opts));
  await app.register(runRoutes(opts));
  await app.register(deploymentRoutes(opts));
  return app;
}
