import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { ModelVersion, Registry } from '../../core/registry/registry';
import { responses } from '../schemas/errors';
import { ModelParams, VersionParams } from '../schemas/models';
import { ModelSummaryView, ModelVersionView, RunView } from '../schemas/registry-views';

export interface RegistryRouteOptions {
  registry: Registry;
}

const tags = ['models'];
const noQuery = Type.Object({}, { additionalProperties: false });

/** Models, their versions with lineage, and their training runs; read-only. */
export function modelRoutes(opts: RegistryRouteOptions) {
  const { registry } = opts;
  return async (app: FastifyInstance): Promise<void> => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();
    const read = { role: 'viewer' } as const;

    r.get(
      '/v1/models',
      {
        config: read,
        schema: {
          summary: 'Models with their aliases and latest version',
          tags,
          querystring: noQuery,
          response: responses({ 200: Type.Object({ models: Type.Array(ModelSummaryView) }) }),
        },
      },
      async () => ({ models: await registry.listModels() }),
    );

    r.get(
      '/v1/models/:name',
      {
        config: read,
        schema: {
          summary: 'One model',
          tags,
          params: ModelParams,
          response: responses({ 200: ModelSummaryView }, { errors: [404] }),
        },
      },
      async (request) => registry.getModel(request.params.name),
    );

    r.get(
      '/v1/models/:name/versions',
      {
        config: read,
        schema: {
          summary: 'Versions of a model with their lineage',
          tags,
          params: ModelParams,
          response: responses(
            { 200: Type.Object({ model: Type.String(), versions: Type.Array(ModelVersionView) }) },
            { errors: [404] },
          ),
        },
      },
      async (request) => {
        const { name } = request.params;
        const model = await registry.getModel(name);
        const versions = await registry.listVersions(name);
        return { model: name, versions: versions.map((v) => withAliases(v, model.aliases)) };
      },
    );

    r.get(
      '/v1/models/:name/versions/:version',
      {
        config: read,
        schema: {
          summary: 'One version: repo, commit, dataset fingerprint, params, metrics, artifact, who and when',
          tags,
          params: VersionParams,
          response: responses({ 200: ModelVersionView }, { errors: [404] }),
        },
      },
      async (request) => {
        const { name } = request.params;
        const version = await registry.getVersion(name, Number(request.params.version));
        return withAliases(version, await registry.getAliases(name));
      },
    );

    r.get(
      '/v1/models/:name/runs',
      {
        config: read,
        schema: {
          summary: 'Training runs of a model, with their comparison tables',
          tags,
          params: ModelParams,
          response: responses(
            { 200: Type.Object({ model: Type.String(), runs: Type.Array(RunView) }) },
            { errors: [404] },
          ),
        },
      },
      async (request) => {
        const { name } = request.params;
        await registry.getModel(name);
        return { model: name, runs: await registry.listRuns(name) };
      },
    );
  };
}

/** A version with the aliases that point at it now, so one read answers "is this the champion?". */
function withAliases(v: ModelVersion, aliases: Record<string, number>): ModelVersion & { aliases: string[] } {
  return { ...v, aliases: Object.keys(aliases).filter((a) => aliases[a] === v.version) };
}
