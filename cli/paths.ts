/**
 * Every API path the CLI calls, in one place, so a change of the routes is one edit here.
 * Lifecycle IDs are `lifecycle/<model>/<key>`, deploy IDs `deploy/<model>/<env>/<key>`.
 */
import { usageError } from './exit-codes';

const seg = encodeURIComponent;

const lifecycleId = /^lifecycle\/([^/]+)\/([^/]+)$/;
const deployId = /^deploy\/([^/]+)\/(staging|production)\/([^/]+)$/;

/** The model and key of a lifecycle ID; a usage error for anything else. */
export function parseLifecycleId(id: string): { model: string; key: string } {
  const m = lifecycleId.exec(id);
  if (!m?.[1] || !m[2]) throw usageError(`"${id}" is not a lifecycle ID (lifecycle/<model>/<key>)`);
  return { model: m[1], key: m[2] };
}

export const paths = {
  lifecycles: '/v1/lifecycles',
  lifecycle(id: string): string {
    const { model, key } = parseLifecycleId(id);
    return `/v1/lifecycles/${seg(model)}/${seg(key)}`;
  },
  /** The promotion decision of a lifecycle or of a standalone deploy. */
  decision(id: string, action: 'approve' | 'reject'): string {
    const l = lifecycleId.exec(id);
    if (l) return `/v1/lifecycles/${seg(l[1]!)}/${seg(l[2]!)}/${action}`;
    const d = deployId.exec(id);
    if (d) return `/v1/deployments/${seg(d[1]!)}/${d[2]}/deploys/${seg(d[3]!)}/${action}`;
    throw usageError(
      `"${id}" is neither a lifecycle ID (lifecycle/<model>/<key>) nor a deploy ID (deploy/<model>/<env>/<key>)`,
    );
  },
  models: '/v1/models',
  model: (name: string): string => `/v1/models/${seg(name)}`,
  versions: (name: string): string => `/v1/models/${seg(name)}/versions`,
  rollback: (name: string): string => `/v1/models/${seg(name)}/rollback`,
  deployments: '/v1/deployments',
  pipelines: '/v1/pipelines',
  pipeline: (name: string): string => `/v1/pipelines/${seg(name)}`,
  driftChecks: (model: string): string => `/v1/models/${seg(model)}/drift-checks`,
  driftReports: (model: string): string => `/v1/models/${seg(model)}/drift-reports`,
} as const;
