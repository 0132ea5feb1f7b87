import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app';
import type { Registry } from '../../core/registry/registry';
import { as, testAuth } from '../helpers/auth';
import { recordingTemporal } from '../helpers/recording-temporal';
import { openTestRegistry } from '../helpers/registry';

/** Lifecycles as resources: `/v1/lifecycles/:model/:key` and its sub-resources, no ID parsed out of a wildcard. */
describe('lifecycle routes shaped by the resource', () => {
  const temporal = recordingTemporal('lifecycle/pm/k1');
  let registry: Registry;
  let app: FastifyInstance;

  beforeAll(async () => {
    registry = await openTestRegistry('lifecycle-routes');
    app = await buildApp({
      temporal: temporal.client,
      registry,
      namespace: 'default',
      webUiUrl: 'http://127.0.0.1:8233',
      auth: testAuth,
    });
  });
  afterAll(async () => {
    await app?.close();
    await registry?.close();
  });

  it('reads a lifecycle at /v1/lifecycles/:model/:key, with links to itself and the Web UI', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/lifecycles/pm/k1', headers: as('only-viewer') });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      id: 'lifecycle/pm/k1',
      status: 'RUNNING',
      model: 'pm',
      stage: 'train',
      links: {
        self: '/v1/lifecycles/pm/k1',
        webUi: 'http://127.0.0.1:8233/namespaces/default/workflows/lifecycle%2Fpm%2Fk1/run-1/history',
      },
    });
  });

  it('aborts and decides through sub-resources of that path', async () => {
    const abort = await app.inject({
      method: 'POST',
      url: '/v1/lifecycles/pm/k1/abort',
      headers: as('only-operator'),
      payload: { reason: 'wrong data' },
    });
    expect(abort.statusCode, abort.body).toBe(202);
    expect(abort.json()).toEqual({ id: 'lifecycle/pm/k1', aborting: true });
    expect(temporal.signals.map((s) => s[0])).toEqual(['lifecycle/pm/k1']);
    const approve = await app.inject({
      method: 'POST',
      url: '/v1/lifecycles/pm/k1/approve',
      headers: as('only-approver'),
      payload: { comment: 'ok' },
    });
    expect(approve.statusCode, approve.body).toBe(200);
    expect(temporal.updates.map((u) => u[0])).toEqual(['lifecycle/pm/k1']);
  });

  it.each([
    ['the workflow ID under /v1/lifecycles (the old path)', 404, 'GET', '/v1/lifecycles/lifecycle/pm/k1'],
    ['more segments than model and key', 404, 'GET', '/v1/lifecycles/pm/k1/extra/x'],
    ['an unknown action', 404, 'POST', '/v1/lifecycles/pm/k1/restart'],
    ['a model name the registry would refuse', 400, 'GET', '/v1/lifecycles/Bad!/k1'],
    ['a key with a character lifecycle keys never have', 400, 'GET', '/v1/lifecycles/pm/k%201'],
  ])('answers %s with %i, signalling nothing', async (_name, status, method, url) => {
    temporal.signals.length = 0;
    const res = await app.inject({
      method: method as 'GET' | 'POST',
      url,
      headers: as('tester'),
      ...(method === 'POST' ? { payload: { reason: 'r' } } : {}),
    });
    expect(res.statusCode, res.body).toBe(status);
    expect(temporal.signals).toEqual([]);
  });
});
