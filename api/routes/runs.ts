import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { invalidInput } from '../../core/errors';
import { CompareRunsQuery } from '../schemas/runs';
import type { RegistryRouteOptions } from './models';

// A comparison is a table to read, not a bulk export.
const maxCompared = 20;

export function runRoutes(opts: RegistryRouteOptions) {
  const { registry } = opts;
  return async (app: FastifyInstance): Promise<void> => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();
    const read = { role: 'viewer' } as const;

    // Registered before the wildcard below; Fastify prefers the static path anyway.
    r.get('/v1/runs/compare', { config: read, schema: { querystring: CompareRunsQuery } }, async (request) => {
      const ids = request.query.ids
        .split(',')
        .map((id) => id.trim())
        .filter(Boolean);
      if (ids.length > maxCompared) throw invalidInput('ids', `name at most ${maxCompared} runs (got ${ids.length})`);
      return registry.compareRuns(ids);
    });

    // Run IDs contain slashes (they extend lifecycle IDs), so the rest of the path is the ID.
    r.get('/v1/runs/*', { config: read }, async (request) => registry.getRun((request.params as { '*': string })['*']));
  };
}
