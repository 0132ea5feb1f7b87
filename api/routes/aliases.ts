import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { requesterOf } from '../plugins/auth';
import { responses } from '../schemas/errors';
import { AliasParams, HistoryQuery, ModelParams, RemoveAliasQuery, SetAliasBody } from '../schemas/models';
import { AliasHistoryView, AliasMoveView, SetAliasView } from '../schemas/registry-views';
import type { RegistryRouteOptions } from './models';

const tags = ['models'];

/** Moving and removing aliases, and their history: all moves, or the aliases at an instant. */
export function aliasRoutes(opts: RegistryRouteOptions) {
  const { registry } = opts;
  return async (app: FastifyInstance): Promise<void> => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();

    const change = { role: 'operator' } as const;

    r.put(
      '/v1/models/:name/aliases/:alias',
      {
        config: change,
        schema: {
          summary: 'Point an alias at a version (kept in the history)',
          tags,
          params: AliasParams,
          body: SetAliasBody,
          response: responses({ 200: SetAliasView }, { errors: [404, 409] }),
        },
      },
      async (request) => {
        const { name, alias } = request.params;
        const { version, reason } = request.body;
        const by = requesterOf(request).subject;
        return registry.setAlias({ model: name, alias, version, by, ...(reason !== undefined ? { reason } : {}) });
      },
    );

    r.delete(
      '/v1/models/:name/aliases/:alias',
      {
        config: change,
        schema: {
          summary: 'Remove an alias (kept in the history)',
          tags,
          params: AliasParams,
          querystring: RemoveAliasQuery,
          response: responses({ 200: AliasMoveView }, { errors: [404, 409] }),
        },
      },
      async (request) => {
        const { name, alias } = request.params;
        return registry.removeAlias(name, alias, requesterOf(request).subject, request.query.reason);
      },
    );

    r.get(
      '/v1/models/:name/history',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'Every alias move, or which version each alias named at an instant',
          tags,
          params: ModelParams,
          querystring: HistoryQuery,
          response: responses({ 200: AliasHistoryView }, { errors: [404] }),
        },
      },
      async (request) => {
        const { name } = request.params;
        await registry.getModel(name);
        if (request.query.at === undefined) return { model: name, history: await registry.aliasHistory(name) };
        const at = new Date(request.query.at);
        return { model: name, at: at.toISOString(), aliases: await registry.aliasesAt(name, at) };
      },
    );
  };
}
