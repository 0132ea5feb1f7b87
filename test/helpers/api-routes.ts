import type { Role } from '../../core/auth/roles';

export interface RouteSample {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** The route as Fastify knows it. */
  route: string;
  access: Role | 'public';
  /** A request that this route accepts (given a model `pm` with a version 1 and a lifecycle `lifecycle/pm/k1`). */
  url: string;
  payload?: object;
}

export const validStart = {
  model: 'pm',
  repo: { url: '/srv/models/pm', ref: 'main' },
  dataset: { path: '/data/history.csv' },
};

/** Every route of the API with one good request each; test/api/auth.test.ts checks that the list is complete. */
export const routeSamples: RouteSample[] = [
  { method: 'GET', route: '/healthz', access: 'public', url: '/healthz' },
  { method: 'POST', route: '/v1/lifecycles', access: 'operator', url: '/v1/lifecycles', payload: validStart },
  {
    method: 'POST',
    route: '/v1/lifecycles/*',
    access: 'operator',
    url: '/v1/lifecycles/lifecycle/pm/k1/abort',
    payload: { reason: 'r' },
  },
  { method: 'GET', route: '/v1/lifecycles/*', access: 'viewer', url: '/v1/lifecycles/lifecycle/pm/k1' },
  { method: 'GET', route: '/v1/models', access: 'viewer', url: '/v1/models' },
  { method: 'GET', route: '/v1/models/:name', access: 'viewer', url: '/v1/models/pm' },
  { method: 'GET', route: '/v1/models/:name/versions', access: 'viewer', url: '/v1/models/pm/versions' },
  { method: 'GET', route: '/v1/models/:name/versions/:version', access: 'viewer', url: '/v1/models/pm/versions/1' },
  { method: 'GET', route: '/v1/models/:name/runs', access: 'viewer', url: '/v1/models/pm/runs' },
  {
    method: 'PUT',
    route: '/v1/models/:name/aliases/:alias',
    access: 'operator',
    url: '/v1/models/pm/aliases/staging',
    payload: { version: 1 },
  },
  {
    method: 'DELETE',
    route: '/v1/models/:name/aliases/:alias',
    access: 'operator',
    url: '/v1/models/pm/aliases/staging',
  },
  { method: 'GET', route: '/v1/models/:name/history', access: 'viewer', url: '/v1/models/pm/history' },
  {
    method: 'GET',
    route: '/v1/runs/compare',
    access: 'viewer',
    url: '/v1/runs/compare?ids=lifecycle/pm/k1/train,lifecycle/pm/k1/train',
  },
  { method: 'GET', route: '/v1/runs/*', access: 'viewer', url: '/v1/runs/lifecycle/pm/k1/train' },
  {
    method: 'POST',
    route: '/v1/deployments',
    access: 'operator',
    url: '/v1/deployments',
    payload: { model: 'pm', version: 1, environment: 'staging', key: 'd1' },
  },
  { method: 'GET', route: '/v1/deployments', access: 'viewer', url: '/v1/deployments' },
  { method: 'GET', route: '/v1/deployments/:model/:env', access: 'viewer', url: '/v1/deployments/pm/production' },
  { method: 'DELETE', route: '/v1/deployments/:model/:env', access: 'operator', url: '/v1/deployments/pm/production' },
  {
    method: 'GET',
    route: '/v1/deployments/:model/:env/deploys/:key',
    access: 'viewer',
    url: '/v1/deployments/pm/production/deploys/d1',
  },
  ...(['approve', 'reject'] as const).flatMap((action): RouteSample[] => [
    {
      method: 'POST',
      route: `/v1/deployments/:model/:env/deploys/:key/${action}`,
      access: 'approver',
      url: `/v1/deployments/pm/production/deploys/d1/${action}`,
      payload: {},
    },
    {
      method: 'POST',
      route: `/v1/lifecycles/lifecycle/:model/:key/${action}`,
      access: 'approver',
      url: `/v1/lifecycles/lifecycle/pm/k1/${action}`,
      payload: {},
    },
  ]),
  { method: 'POST', route: '/v1/models/:name/rollback', access: 'approver', url: '/v1/models/pm/rollback', payload: { reason: 'r' } },
];
