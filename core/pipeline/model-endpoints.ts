import { MloopError } from '../errors';
import { KServeClient, type FeatureSpec } from '../serving/kserve-client';
import type { ModelEndpoint } from './stages';
import { modelRefs } from './validate';

/**
 * Where a model transform scores, found from what the registry says is deployed: a deployment
 * (model, environment) scores through its stable endpoint; a version scores on a server of a
 * deployment that serves that version now. The features come from the server's V2 metadata,
 * so validation checks a transform against the very model it will call.
 */
export interface ModelRef {
  model: string;
  environment?: string;
  version?: number;
}

export interface DeploymentLookup {
  currentDeployments(model: string): Promise<Array<{ environment: string; version: number; endpoint: string | null }>>;
}

/** Finds the server of one version of a deployment (the deploy stage's releases); optional. */
export type VersionServer = (model: string, environment: string, version: number) => Promise<string | null>;

const datatypeToFeature: Record<string, FeatureSpec['type']> = {
  FP64: 'number',
  FP32: 'number',
  INT64: 'integer',
  INT32: 'integer',
  BYTES: 'string',
};

export async function resolveModelEndpoint(
  ref: ModelRef,
  deployments: DeploymentLookup,
  versionServer?: VersionServer,
): Promise<ModelEndpoint> {
  const current = await deployments.currentDeployments(ref.model);
  let url: string | null = null;
  if (ref.version !== undefined) {
    const serving = current.find((d) => d.version === ref.version);
    if (!serving)
      throw new MloopError('NotFound', `model ${ref.model} has no deployment serving version ${ref.version}`, {
        field: 'version',
      });
    url = (versionServer && (await versionServer(ref.model, serving.environment, ref.version))) ?? serving.endpoint;
  } else {
    const env = ref.environment ?? 'production';
    const d = current.find((x) => x.environment === env);
    if (!d) throw new MloopError('NotFound', `model ${ref.model} has no ${env} deployment`, { field: 'environment' });
    url = d.endpoint;
  }
  if (!url)
    throw new MloopError('NotFound', `the deployment of model ${ref.model} has no endpoint`, { field: 'model' });
  const meta = await new KServeClient(url, ref.model).metadata();
  const features = meta.inputs.map((i) => ({ name: i.name, type: datatypeToFeature[i.datatype] ?? 'string' }));
  const version = ref.version !== undefined ? String(ref.version) : meta.versions?.[0];
  return { url, modelName: ref.model, features, ...(version ? { version } : {}) };
}

/**
 * The features of every model a spec scores with that is deployed, for `validatePipeline`, which
 * names each one missing at its transform's place. A server that does not answer is Unavailable.
 */
export async function modelFeaturesOf(
  spec: unknown,
  deployments: DeploymentLookup,
): Promise<{ models: Record<string, FeatureSpec[]> }> {
  const models: Record<string, FeatureSpec[]> = {};
  for (const ref of modelRefs(spec)) {
    if (models[ref.key]) continue;
    try {
      models[ref.key] = (await resolveModelEndpoint(ref, deployments)).features;
    } catch (err) {
      if (!(err instanceof MloopError) || err.code !== 'NotFound') throw err;
    }
  }
  return { models };
}
