import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { registerPublic } from './plugins/auth';
import { ErrorBody } from './schemas/errors';

/** Where Swagger UI is served; the OpenAPI document is at `${docsPrefix}/json` (and `/yaml`). */
export const docsPrefix = '/docs';

/**
 * The OpenAPI 3 document, generated from the routes' TypeBox schemas, and Swagger UI over it with
 * its assets served by the API itself. Registered before the routes, so it sees every one of them.
 *
 * The pages and the document are public: a browser cannot send a bearer token when it opens a
 * page, and the document only describes the routes (as this repository does); every route it
 * lists still needs its token, which Swagger UI's Authorize button sends.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  app.addSchema(ErrorBody);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'mloop API',
        version: '1',
        description:
          'Lifecycles (train, shadow test, deploy), the model registry, deployments and approvals. ' +
          'Errors answer with a stable `error` code from the catalog (see ErrorBody).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    // Components keep their own names (ErrorBody) instead of def-0, def-1…
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transform: ({ schema, url, route }) => {
      const config = route.config as { role?: string; public?: boolean } | undefined;
      if (config?.public || !schema) return { schema, url };
      const role = config?.role ?? 'viewer';
      const described = { ...schema } as Record<string, unknown>;
      described.security = [{ bearer: [] }];
      described.description = [schema.description, `Needs a token with the role "${role}".`].filter(Boolean).join(' ');
      return { schema: described, url };
    },
  });
  await registerPublic(app, async (docs) => {
    await docs.register(swaggerUi, {
      routePrefix: docsPrefix,
      uiConfig: { deepLinking: true, persistAuthorization: false },
      staticCSP: true,
    });
  });
}
