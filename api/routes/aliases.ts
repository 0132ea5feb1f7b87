import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { requester } from '../requester';
import { AliasParams, HistoryQuery, ModelParams, RemoveAliasQuery, SetAliasBody } from '../schemas/models';
import type { RegistryRouteOptions } from './models';

/** Moving and removing aliases, and their history: all moves, or the aliases at an instant. */
export function aliasRoutes(opts: RegistryRouteOptions) {
  const { registry } = opts;
  return async (app: FastifyInstance): Promise<void> => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();

    r.put('/v1/models/:name/aliases/:alias', { schema: { params: AliasParams, body: SetAliasBody } }, async (request) => {
      const { name, alias } = request.params;
      const { version, reason } = request.body;
      const by = requester(request.headers['x-mloop-user']);
      return registry.setAlias({ model: name, alias, version, by, ...(reason !== undefined ? { reason } : {}) });
    });

    r.delete('/v1/models/:name/aliases/:alias', { schema: { params: AliasParams, querystring: RemoveAliasQuery } }, async (request) => {
      const { name, alias } = request.params;
      return registry.removeAlias(name, alias, requester(request.headers['x-mloop-user']), request.query.reason);
    });

    r.get('/v1/models/:name/history', { schema: { params: ModelParams, querystring: HistoryQuery } }, async (request) => {
      const { name } = request.params;
      await registry.getModel(name);
      if (request.query.at === undefined) return { model: name, history: await registry.aliasHistory(name) };
      const at = new Date(request.query.at);
      return { model: name, at: at.toISOString(), aliases: await registry.aliasesAt(name, at) };
    });
  };
}
