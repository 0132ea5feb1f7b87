import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { ModelVersion, Registry } from '../../core/registry/registry';
import { ModelParams, VersionParams } from '../schemas/models';

export interface RegistryRouteOptions {
  registry: Registry;
}

/** Models, their versions with lineage, and their training runs; read-only. */
export function modelRoutes(opts: RegistryRouteOptions) {
  const { registry } = opts;
  return async (app: FastifyInstance): Promise<void> => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();
    const read = { role: 'viewer' } as const;

    r.get('/v1/models', { config: read }, async () => ({ models: await registry.listModels() }));

    r.get('/v1/models/:name', { config: read, schema: { params: ModelParams } }, async (request) =>
      registry.getModel(request.params.name),
    );

    r.get('/v1/models/:name/versions', { config: read, schema: { params: ModelParams } }, async (request) => {
      const { name } = request.params;
      const model = await registry.getModel(name);
      const versions = await registry.listVersions(name);
      return { model: name, versions: versions.map((v) => withAliases(v, model.aliases)) };
    });

    r.get(
      '/v1/models/:name/versions/:version',
      { config: read, schema: { params: VersionParams } },
      async (request) => {
        const { name } = request.params;
        const version = await registry.getVersion(name, Number(request.params.version));
        return withAliases(version, await registry.getAliases(name));
      },
    );

    r.get('/v1/models/:name/runs', { config: read, schema: { params: ModelParams } }, async (request) => {
      const { name } = request.params;
      await registry.getModel(name);
      return { model: name, runs: await registry.listRuns(name) };
    });
  };
}

/** A version with the aliases that point at it now, so one read answers "is this the champion?". */
function withAliases(v: ModelVersion, aliases: Record<string, number>): ModelVersion & { aliases: string[] } {
  return { ...v, aliases: Object.keys(aliases).filter((a) => aliases[a] === v.version) };
}
