import type { Role } from '../../core/auth/roles';

export interface RouteSample {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
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

/** Swagger UI's pages and assets, and the OpenAPI document (api/openapi.ts). */
export const docsRoutes = [
  '/docs',
  '/docs/static/index.html',
  '/docs/static/swagger-initializer.js',
  '/docs/json',
  '/docs/yaml',
  '/docs/static/*',
];

/** A small valid pipeline spec: an http source, a filter, no model. */
export function validPipeline(name: string) {
  return {
    name,
    topics: [{ name: `${name}.in` }, { name: `${name}.out` }],
    sources: [{ name: 'readings', kind: 'http', topic: `${name}.in`, fields: { x: 'number' } }],
    transforms: [{ name: 'keep', kind: 'filter', input: `${name}.in`, output: `${name}.out`, where: 'x > 1' }],
  };
}

/** Every route of the API with one good request each; test/api/auth.test.ts checks that the list is complete. */
export const routeSamples: RouteSample[] = [
  { method: 'GET', route: '/healthz', access: 'public', url: '/healthz' },
  { method: 'GET', route: '/readyz', access: 'public', url: '/readyz' },
  { method: 'GET', route: '/metrics', access: 'viewer', url: '/metrics' },
  ...docsRoutes.map((route): RouteSample => ({
    method: 'GET',
    route,
    access: 'public',
    url: route.replace('*', 'index.css'),
  })),
  { method: 'POST', route: '/v1/lifecycles', access: 'operator', url: '/v1/lifecycles', payload: validStart },
  {
    method: 'POST',
    route: '/v1/lifecycles/:model/:key/abort',
    access: 'operator',
    url: '/v1/lifecycles/pm/k1/abort',
    payload: { reason: 'r' },
  },
  { method: 'GET', route: '/v1/lifecycles/:model/:key', access: 'viewer', url: '/v1/lifecycles/pm/k1' },
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
  {
    method: 'GET',
    route: '/v1/runs/:id',
    access: 'viewer',
    url: `/v1/runs/${encodeURIComponent('lifecycle/pm/k1/train')}`,
  },
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
      route: `/v1/lifecycles/:model/:key/${action}`,
      access: 'approver',
      url: `/v1/lifecycles/pm/k1/${action}`,
      payload: {},
    },
  ]),
  {
    method: 'POST',
    route: '/v1/models/:name/rollback',
    access: 'approver',
    url: '/v1/models/pm/rollback',
    payload: { reason: 'r' },
  },
  { method: 'GET', route: '/v1/models/:name/monitoring', access: 'viewer', url: '/v1/models/pm/monitoring' },
  {
    method: 'PATCH',
    route: '/v1/models/:name/monitoring',
    access: 'operator',
    url: '/v1/models/pm/monitoring',
    payload: { intervalMinutes: 30 },
  },
  {
    method: 'POST',
    route: '/v1/models/:name/drift-checks',
    access: 'operator',
    url: '/v1/models/pm/drift-checks',
    payload: { environment: 'production' },
  },
  { method: 'GET', route: '/v1/models/:name/drift-reports', access: 'viewer', url: '/v1/models/pm/drift-reports' },
  {
    method: 'GET',
    route: '/v1/models/:name/drift-reports/:id',
    access: 'viewer',
    url: '/v1/models/pm/drift-reports/20261201T120000Z-0123456789ab',
  },
  {
    method: 'GET',
    route: '/v1/models/:name/drift-reports/:id.html',
    access: 'viewer',
    url: '/v1/models/pm/drift-reports/20261201T120000Z-0123456789ab.html',
  },
  { method: 'POST', route: '/v1/pipelines', access: 'operator', url: '/v1/pipelines', payload: validPipeline('p1') },
  { method: 'GET', route: '/v1/pipelines', access: 'viewer', url: '/v1/pipelines' },
  { method: 'GET', route: '/v1/pipelines/:name', access: 'viewer', url: '/v1/pipelines/p1' },
  { method: 'DELETE', route: '/v1/pipelines/:name', access: 'operator', url: '/v1/pipelines/p1' },
  {
    method: 'PUT',
    route: '/v1/pipelines/:name/transforms/:transform/model',
    access: 'operator',
    url: '/v1/pipelines/p1/transforms/score/model',
    payload: { environment: 'staging' },
  },
  {
    method: 'POST',
    route: '/v1/pipelines/:name/ingest/:source',
    access: 'operator',
    url: '/v1/pipelines/p1/ingest/readings',
    payload: { records: [{ x: 1 }] },
  },
];
