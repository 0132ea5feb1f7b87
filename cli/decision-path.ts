/** The API path of a promotion decision for a lifecycle or a standalone deploy. */
export function decisionPath(id: string, action: 'approve' | 'reject'): string {
  const lifecycle = /^lifecycle\/([^/]+)\/([^/]+)$/.exec(id);
  if (lifecycle) return `/v1/lifecycles/lifecycle/${lifecycle[1]}/${lifecycle[2]}/${action}`;
  const deploy = /^deploy\/([^/]+)\/(staging|production)\/([^/]+)$/.exec(id);
  if (deploy) return `/v1/deployments/${deploy[1]}/${deploy[2]}/deploys/${deploy[3]}/${action}`;
  throw new Error(`"${id}" is neither a lifecycle ID (lifecycle/<model>/<key>) nor a deploy ID (deploy/<model>/<env>/<key>)`);
}
