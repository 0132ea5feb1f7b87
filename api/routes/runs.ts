import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { invalidInput } from '../../core/errors';
import { responses } from '../schemas/errors';
import { RunView, RunComparisonView } from '../schemas/registry-views';
import { CompareRunsQuery, RunParams } from '../schemas/runs';
import type { RegistryRouteOptions } from './models';

// A comparison is a table to read, not a bulk export.
const maxCompared = 20;
const tags = ['models'];

export function runRoutes(opts: RegistryRouteOptions) {
  const { registry } = opts;
  return async (app: FastifyInstance): Promise<void> => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();
    const read = { role: 'viewer' } as const;

    r.get(
      '/v1/runs/compare',
      {
        config: read,
        schema: {
          summary: 'Runs side by side',
          tags,
          querystring: CompareRunsQuery,
          response: responses({ 200: RunComparisonView }, { errors: [404] }),
        },
      },
      async (request) => {
        const ids = request.query.ids
          .split(',')
          .map((id) => id.trim())
          .filter(Boolean);
        if (ids.length > maxCompared) throw invalidInput('ids', `name at most ${maxCompared} runs (got ${ids.length})`);
        return registry.compareRuns(ids);
      },
    );

    r.get(
      '/v1/runs/:id',
      {
        config: read,
        schema: {
          summary: 'One training run with its comparison table',
          description: 'Run IDs contain slashes: send them URL-encoded as one path segment (lifecycle%2Fpm%2F…).',
          tags,
          params: RunParams,
          response: responses({ 200: RunView }, { errors: [404] }),
        },
      },
      async (request) => registry.getRun(request.params.id),
    );
  };
}
