import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app';
import type { Registry } from '../../core/registry/registry';
import { validStart } from '../helpers/api-routes';
import { as, testAuth } from '../helpers/auth';
import { recordingTemporal } from '../helpers/recording-temporal';
import { newVersion, openTestRegistry } from '../helpers/registry';

type Res = Awaited<ReturnType<FastifyInstance['inject']>>;

/** The Idempotency-Key of starts, on the recording client: which requests start a workflow. */
describe('Idempotency-Key on every route that starts something', () => {
  const temporal = recordingTemporal();
  let registry: Registry;
  let app: FastifyInstance;

  beforeAll(async () => {
    registry = await openTestRegistry('idempotency');
    for (const key of ['pm-1', 'pm-2']) await registry.registerVersion(newVersion('pm', key));
    // v1 was champion, then v2: a rollback goes from v2 back to v1.
    await registry.setAlias({ model: 'pm', alias: 'champion', version: 1, by: 'alice' });
    await registry.setAlias({ model: 'pm', alias: 'champion', version: 2, by: 'alice' });
    app = await buildApp({
      allowedRoots: ['/srv/models', '/data'],
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

  const post = (
    url: string,
    key: string | undefined,
    payload: object,
    method: 'POST' | 'DELETE' = 'POST',
  ): Promise<Res> =>
    app.inject({
      method,
      url,
      headers: { ...as('tester'), ...(key ? { 'idempotency-key': key } : {}) },
      ...(method === 'POST' ? { payload } : {}),
    });
  const startsOf = (id: string): number =>
    temporal.starts.filter(([, o]) => (o as { workflowId: string }).workflowId === id).length;

  it('starts one lifecycle for a key sent twice, and answers both alike', async () => {
    const first = await post('/v1/lifecycles', 'nightly-1', { ...validStart, params: { n: 1, m: 2 } });
    // The same request with its fields in another order is the same request.
    const again = await post('/v1/lifecycles', 'nightly-1', { params: { m: 2, n: 1 }, ...validStart });
    expect(first.statusCode, first.body).toBe(202);
    expect(again.statusCode, again.body).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(first.json()).toMatchObject({
      id: 'lifecycle/pm/nightly-1',
      links: { self: '/v1/lifecycles/pm/nightly-1' },
    });
    expect(startsOf('lifecycle/pm/nightly-1')).toBe(1);
  });

  it('refuses the same key with a different body, starting nothing', async () => {
    await post('/v1/lifecycles', 'nightly-2', validStart);
    const other = await post('/v1/lifecycles', 'nightly-2', { ...validStart, params: { n: 2 } });
    expect(other.statusCode, other.body).toBe(422);
    expect(other.json()).toEqual({
      error: 'IdempotencyKeyReused',
      field: 'headers.idempotency-key',
      message:
        '"lifecycle/pm/nightly-2" was started by a different request; repeat that request exactly, or use a new key',
    });
    expect(startsOf('lifecycle/pm/nightly-2')).toBe(1);
  });

  it('recognises the request after the lifecycle continued as new, whose runs carry no memo', async () => {
    const first = await post('/v1/lifecycles', 'waiting-approval', validStart);
    temporal.continueAsNew('lifecycle/pm/waiting-approval');
    temporal.continueAsNew('lifecycle/pm/waiting-approval');
    const again = await post('/v1/lifecycles', 'waiting-approval', validStart);
    expect(again.statusCode, again.body).toBe(202);
    expect(again.json()).toEqual(first.json());
    const other = await post('/v1/lifecycles', 'waiting-approval', { ...validStart, params: { n: 3 } });
    expect(other.statusCode, other.body).toBe(422);
    expect(startsOf('lifecycle/pm/waiting-approval')).toBe(1);
  });

  it("treats the body's key as the same key, and refuses the two when they differ", async () => {
    const viaBody = await post('/v1/lifecycles', undefined, { ...validStart, key: 'nightly-3' });
    const viaHeader = await post('/v1/lifecycles', 'nightly-3', validStart);
    expect(viaHeader.json()).toEqual(viaBody.json());
    const both = await post('/v1/lifecycles', 'nightly-4', { ...validStart, key: 'nightly-5' });
    expect(both.statusCode, both.body).toBe(400);
    expect(both.json()).toMatchObject({ error: 'InvalidInput', field: 'headers.idempotency-key' });
    expect(startsOf('lifecycle/pm/nightly-3')).toBe(1);
    expect(startsOf('lifecycle/pm/nightly-4') + startsOf('lifecycle/pm/nightly-5')).toBe(0);
  });

  it('refuses a malformed key with a 400 naming the header', async () => {
    const res = await post('/v1/lifecycles', 'a/b', validStart);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: 'InvalidInput', field: 'headers.idempotency-key' });
  });

  it('starts one deploy for a key sent twice; another body is refused', async () => {
    const body = { model: 'pm', version: 2, environment: 'staging' };
    const first = await post('/v1/deployments', 'stage-2', body);
    const again = await post('/v1/deployments', 'stage-2', body);
    expect(first.statusCode, first.body).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(startsOf('deploy/pm/staging/stage-2')).toBe(1);
    const other = await post('/v1/deployments', 'stage-2', { ...body, version: 1 });
    expect(other.statusCode, other.body).toBe(422);
    expect(startsOf('deploy/pm/staging/stage-2')).toBe(1);
  });

  it('rolls back once for a key sent again after the champion moved', async () => {
    const first = await post('/v1/models/pm/rollback', 'undo-v2', { reason: 'bad alerts' });
    expect(first.statusCode, first.body).toBe(202);
    expect(first.json()).toMatchObject({ from: 2, to: 1, id: 'deploy/pm/production/undo-v2' });
    // The rollback's deploy ran: v1 is champion again, so a fresh rollback would go elsewhere.
    await registry.setAlias({ model: 'pm', alias: 'champion', version: 1, by: 'approver' });
    const again = await post('/v1/models/pm/rollback', 'undo-v2', { reason: 'bad alerts' });
    expect(again.statusCode, again.body).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(startsOf('deploy/pm/production/undo-v2')).toBe(1);
  });

  it('without a key, rolls back each champion move once: again after a new promotion', async () => {
    await registry.setAlias({ model: 'pm', alias: 'champion', version: 2, by: 'approver' });
    const first = await post('/v1/models/pm/rollback', undefined, { reason: 'r' });
    const again = await post('/v1/models/pm/rollback', undefined, { reason: 'r' });
    expect(first.statusCode, first.body).toBe(202);
    expect(again.json()).toEqual(first.json());
    // The rollback ran, then v2 was promoted once more: rolling that back is a new request.
    await registry.setAlias({ model: 'pm', alias: 'champion', version: 1, by: 'approver' });
    await registry.setAlias({ model: 'pm', alias: 'champion', version: 2, by: 'approver' });
    const later = await post('/v1/models/pm/rollback', undefined, { reason: 'r' });
    expect(later.statusCode, later.body).toBe(202);
    const ids = [first, later].map((r) => r.json<{ id: string }>().id);
    expect(ids[1]).not.toBe(ids[0]);
    for (const id of ids) expect(startsOf(id)).toBe(1);
  });

  it('refuses a key used on another route', async () => {
    await post('/v1/deployments', 'shared', { model: 'pm', version: 2, environment: 'production' });
    const res = await post('/v1/models/pm/rollback', 'shared', { reason: 'r' });
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json()).toMatchObject({ error: 'IdempotencyKeyReused' });
    expect(startsOf('deploy/pm/production/shared')).toBe(1);
  });
});
