import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app';
import type { Registry } from '../../core/registry/registry';
import { as, testAuth } from '../helpers/auth';
import { manualClock, newRun, newVersion, openTestRegistry } from '../helpers/registry';

/**
 * The registry routes against a real SQLite registry. They never touch Temporal, so the client is
 * a stub that fails the test if any route reaches for it.
 */
describe('model registry API', () => {
  const untouchable = new Proxy({}, { get: () => expect.fail('registry routes must not use Temporal') });
  const temporal = { workflow: untouchable, connection: untouchable } as unknown as Client;
  const clock = manualClock('2026-01-01T00:00:00.000Z');
  const runA = 'lifecycle/pm/nightly-1/train';
  const runB = 'lifecycle/pm/nightly-2/train';
  const runFailed = 'lifecycle/pm/nightly-3/train';
  let registry: Registry;
  let app: FastifyInstance;

  beforeAll(async () => {
    registry = await openTestRegistry('models-api', clock.now);
    app = await buildApp({
      temporal,
      registry,
      namespace: 'default',
      webUiUrl: 'http://127.0.0.1:8233',
      auth: testAuth,
    });
    await registry.recordRun(newRun('pm', runA, { metrics: { accuracy: 0.9, roc_auc: 0.8 } }));
    await registry.registerVersion(
      newVersion('pm', 'pm-1', { trainingRunId: runA, metrics: { accuracy: 0.9, roc_auc: 0.8 } }),
    );
    await registry.recordRun(
      newRun('pm', runB, { metrics: { accuracy: 0.93, roc_auc: 0.85 }, commitSha: 'e'.repeat(40) }),
    );
    await registry.registerVersion(
      newVersion('pm', 'pm-2', {
        trainingRunId: runB,
        metrics: { accuracy: 0.93, roc_auc: 0.85 },
        commitSha: 'e'.repeat(40),
      }),
    );
    await registry.recordRun(newRun('pm', runFailed, { metrics: { accuracy: 0.7, f1: 0.4 }, outcome: 'gate_failed' }));
    await registry.registerVersion(newVersion('other', 'other-1'));
  });
  afterAll(async () => {
    await app?.close();
    await registry?.close();
  });

  // Reads need only the viewer role; alias moves need the operator role.
  const get = (url: string) => app.inject({ method: 'GET', url, headers: as('only-viewer') });
  const put = (url: string, payload: object, user = 'alice') =>
    app.inject({ method: 'PUT', url, payload, headers: as(user) });
  const expectError = (
    res: { statusCode: number; json: <T>() => T; body: string },
    status: number,
    error: string,
    field?: string,
  ) => {
    expect(res.statusCode, res.body).toBe(status);
    expect(res.json()).toMatchObject({ error, ...(field ? { field } : {}) });
  };

  it('moves, reads and removes aliases, keeping every move', async () => {
    clock.set('2026-01-10T00:00:00.000Z');
    const first = await put('/v1/models/pm/aliases/champion', { version: 1, reason: 'first model' });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({
      model: 'pm',
      alias: 'champion',
      version: 1,
      previousVersion: null,
      changed: true,
      by: 'alice',
      at: '2026-01-10T00:00:00.000Z',
    });

    clock.set('2026-01-20T00:00:00.000Z');
    const promoted = await put('/v1/models/pm/aliases/champion', { version: 2 }, 'bob');
    expect(promoted.json()).toMatchObject({ version: 2, previousVersion: 1, changed: true, by: 'bob', reason: null });
    const again = await put('/v1/models/pm/aliases/champion', { version: 2 }, 'carol');
    expect(again.json()).toMatchObject({ version: 2, changed: false, by: 'bob' });

    await put('/v1/models/pm/aliases/staging', { version: 1 });
    clock.set('2026-01-25T00:00:00.000Z');
    const removed = await app.inject({
      method: 'DELETE',
      url: '/v1/models/pm/aliases/staging?reason=retired',
      headers: as('bob'),
    });
    expect(removed.statusCode, removed.body).toBe(200);
    expect(removed.json()).toMatchObject({
      alias: 'staging',
      version: null,
      previousVersion: 1,
      by: 'bob',
      reason: 'retired',
    });

    const history = await get('/v1/models/pm/history');
    expect(history.statusCode).toBe(200);
    const { model, history: moves } = history.json<{
      model: string;
      history: Array<{ alias: string; version: number | null; at: string }>;
    }>();
    expect(model).toBe('pm');
    expect(moves.map((m) => [m.alias, m.version, m.at])).toEqual([
      ['champion', 1, '2026-01-10T00:00:00.000Z'],
      ['champion', 2, '2026-01-20T00:00:00.000Z'],
      ['staging', 1, '2026-01-20T00:00:00.000Z'],
      ['staging', null, '2026-01-25T00:00:00.000Z'],
    ]);
  });

  it('answers the aliases at an instant', async () => {
    const at = async (instant: string) =>
      (await get(`/v1/models/pm/history?at=${encodeURIComponent(instant)}`)).json<{ aliases: object }>();
    expect(await at('2026-01-09T23:59:59Z')).toEqual({ model: 'pm', at: '2026-01-09T23:59:59.000Z', aliases: {} });
    expect((await at('2026-01-15T00:00:00+02:00')).aliases).toEqual({ champion: 1 });
    expect((await at('2026-01-22T00:00:00.000Z')).aliases).toEqual({ champion: 2, staging: 1 });
    expect((await at('2026-02-01T00:00:00Z')).aliases).toEqual({ champion: 2 });
  });

  it('lists models and describes one', async () => {
    const list = await get('/v1/models');
    expect(list.statusCode).toBe(200);
    expect(list.json()).toEqual({
      models: [
        { name: 'other', createdAt: '2026-01-01T00:00:00.000Z', latestVersion: 1, aliases: {} },
        { name: 'pm', createdAt: '2026-01-01T00:00:00.000Z', latestVersion: 2, aliases: { champion: 2 } },
      ],
    });
    const one = await get('/v1/models/pm');
    expect(one.json()).toEqual({
      name: 'pm',
      createdAt: '2026-01-01T00:00:00.000Z',
      latestVersion: 2,
      aliases: { champion: 2 },
    });
  });

  it('lists versions and shows one with its lineage', async () => {
    const list = await get('/v1/models/pm/versions');
    expect(list.statusCode).toBe(200);
    const { versions } = list.json<{ versions: Array<{ version: number; aliases: string[] }> }>();
    expect(versions.map((v) => [v.version, v.aliases])).toEqual([
      [1, []],
      [2, ['champion']],
    ]);

    const v2 = await get('/v1/models/pm/versions/2');
    expect(v2.statusCode).toBe(200);
    expect(v2.json()).toMatchObject({
      model: 'pm',
      version: 2,
      aliases: ['champion'],
      repoUrl: '/srv/pm',
      commitSha: 'e'.repeat(40),
      datasetFingerprint: `sha256:${'c'.repeat(64)}`,
      params: { n_estimators: 10 },
      metrics: { accuracy: 0.93, roc_auc: 0.85 },
      artifactDigest: `sha256:${'a'.repeat(64)}`,
      workflowId: 'lifecycle/pm/pm-2',
      runId: 'temporal-run-1',
      trainingRunId: runB,
      createdBy: 'alice',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
  });

  it("lists a model's runs and shows one by its URL-encoded ID", async () => {
    const list = await get('/v1/models/pm/runs');
    expect(list.statusCode).toBe(200);
    expect(
      list
        .json<{ runs: Array<{ id: string; outcome: string; version: number | null }> }>()
        .runs.map((r) => [r.id, r.outcome, r.version]),
    ).toEqual([
      [runA, 'passed', 1],
      [runB, 'passed', 2],
      [runFailed, 'gate_failed', null],
    ]);
    const run = await get(`/v1/runs/${encodeURIComponent(runFailed)}`);
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json()).toMatchObject({
      id: runFailed,
      model: 'pm',
      outcome: 'gate_failed',
      metrics: { accuracy: 0.7, f1: 0.4 },
      evaluation: { holdout: { rows: 600 } },
    });
  });

  it('compares runs side by side', async () => {
    const res = await get(`/v1/runs/compare?ids=${runA},${runFailed}`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ runs: Array<Record<string, unknown>>; metrics: Record<string, Array<number | null>> }>();
    expect(body.metrics).toEqual({ accuracy: [0.9, 0.7], f1: [null, 0.4], roc_auc: [0.8, null] });
    expect(body.runs.map((r) => [r.id, r.commitSha, r.datasetFingerprint, r.params, r.outcome])).toEqual([
      [runA, 'b'.repeat(40), `sha256:${'c'.repeat(64)}`, { n_estimators: 10 }, 'passed'],
      [runFailed, 'b'.repeat(40), `sha256:${'c'.repeat(64)}`, { n_estimators: 10 }, 'gate_failed'],
    ]);
  });

  it.each([
    ['unknown model', '/v1/models/nope'],
    ['versions of an unknown model', '/v1/models/nope/versions'],
    ['unknown version', '/v1/models/pm/versions/9'],
    ['runs of an unknown model', '/v1/models/nope/runs'],
    ['history of an unknown model', '/v1/models/nope/history'],
    ['unknown run', `/v1/runs/${encodeURIComponent('lifecycle/pm/none/train')}`],
    ['a run ID with its slashes unencoded (no such route)', `/v1/runs/lifecycle/pm/none/train`],
    ['comparison with an unknown run', `/v1/runs/compare?ids=${runA},lifecycle/pm/none/train`],
  ])('answers 404 for %s', async (_name, url) => {
    expectError(await get(url), 404, 'NotFound');
  });

  it.each([
    ['a malformed model name', '/v1/models/Bad!', 'params.name'],
    ['a version that is not a number', '/v1/models/pm/versions/abc', 'params.version'],
    ['version 0', '/v1/models/pm/versions/0', 'params.version'],
    ['a malformed instant', '/v1/models/pm/history?at=yesterday', 'querystring.at'],
    ['an instant without a time zone', '/v1/models/pm/history?at=2026-01-15T00:00:00', 'querystring.at'],
    ['an unknown query parameter', '/v1/models/pm/history?when=now', 'querystring.when'],
    ['a comparison of one run', `/v1/runs/compare?ids=${runA}`, 'ids'],
    ['a comparison without ids', '/v1/runs/compare', 'querystring.ids'],
    [
      'a comparison of too many runs',
      `/v1/runs/compare?ids=${Array.from({ length: 21 }, (_, i) => `r${i}`).join(',')}`,
      'ids',
    ],
  ])('answers 400 for %s, naming the field', async (_name, url, field) => {
    const res = await get(url);
    expectError(res, 400, 'InvalidInput', field);
    expect(res.json<{ message: string }>().message).toContain(field.replace(/^(params|querystring)\./, ''));
  });

  it('rejects bad alias moves without logging them', async () => {
    const before = (await registry.aliasHistory('pm')).length;
    expectError(await put('/v1/models/pm/aliases/champion', { version: 9 }), 404, 'NotFound');
    expectError(await put('/v1/models/nope/aliases/champion', { version: 1 }), 404, 'NotFound');
    expectError(await put('/v1/models/pm/aliases/Champion', { version: 1 }), 400, 'InvalidInput', 'params.alias');
    expectError(await put('/v1/models/pm/aliases/champion', {}), 400, 'InvalidInput', 'body.version');
    expectError(await put('/v1/models/pm/aliases/champion', { version: '2' }), 400, 'InvalidInput', 'body.version');
    expectError(
      await put('/v1/models/pm/aliases/champion', { version: 2, extra: true }),
      400,
      'InvalidInput',
      'body.extra',
    );
    expectError(
      await app.inject({ method: 'DELETE', url: '/v1/models/pm/aliases/staging', headers: as('alice') }),
      404,
      'NotFound',
    );
    expectError(
      await app.inject({ method: 'DELETE', url: '/v1/models/nope/aliases/staging', headers: as('alice') }),
      404,
      'NotFound',
    );
    expect(await registry.aliasHistory('pm')).toHaveLength(before);
  });
});
