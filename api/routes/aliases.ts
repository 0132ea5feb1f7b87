import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { requesterOf } from '../plugins/auth';
import { AliasParams, HistoryQuery, ModelParams, RemoveAliasQuery, SetAliasBody } from '../schemas/models';
import type { RegistryRouteOptions } from './models';

/** Moving and removing aliases, and their history: all moves, or the aliases at an instant. */
export function aliasRoutes(opts: RegistryRouteOptions) {
  const { registry } = opts;
  return async (app: FastifyInstance): Promise<void> => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();

    const change = { role: 'operator' } as const;

    r.put(
      '/v1/models/:name/aliases/:alias',
      { config: change, schema: { params: AliasParams, body: SetAliasBody } },
      async (request) => {
        const { name, alias } = request.params;
        const { version, reason } = request.body;
        const by = requesterOf(request).subject;
        return registry.setAlias({ model: name, alias, version, by, ...(reason !== undefined ? { reason } : {}) });
      },
    );

    r.delete(
      '/v1/models/:name/aliases/:alias',
      { config: change, schema: { params: AliasParams, querystring: RemoveAliasQuery } },
      async (request) => {
        const { name, alias } = request.params;
        return registry.removeAlias(name, alias, requesterOf(request).subject, request.query.reason);
      },
    );

    r.get(
      '/v1/models/:name/history',
      { config: { role: 'viewer' }, schema: { params: ModelParams, querystring: HistoryQuery } },
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
