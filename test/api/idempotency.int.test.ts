import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app';
import type { Registry } from '../../core/registry/registry';
import { validPipeline } from '../helpers/api-routes';
import { as, testAuth } from '../helpers/auth';
import { openTestRegistry } from '../helpers/registry';
import { config, connectClient, tempDir, testNames } from '../helpers/stack';
import { until } from '../helpers/until';

/**
 * Idempotency-Key against the real Temporal server. No worker polls the test's queue: a started
 * lifecycle waits for its first task, which is all this test needs to count starts.
 */
describe('Idempotency-Key of lifecycle starts (real Temporal server)', () => {
  const names = testNames('idempotency');
  let temporal: { client: Client; close: () => Promise<void> };
  let registry: Registry;
  let app: FastifyInstance;
  let body: object;

  beforeAll(async () => {
    temporal = await connectClient();
    registry = await openTestRegistry('idempotency-int');
    const root = await tempDir('idempotency-root');
    await fs.mkdir(path.join(root, 'repo'));
    await fs.writeFile(path.join(root, 'data.csv'), 'x\n');
    body = {
      model: 'pm',
      repo: { url: path.join(root, 'repo'), ref: 'main' },
      dataset: { path: path.join(root, 'data.csv') },
    };
    app = await buildApp({
      temporal: temporal.client,
      registry,
      namespace: config.temporalNamespace,
      webUiUrl: config.temporalUiUrl,
      controlTaskQueue: names.control,
      allowedRoots: [root],
      auth: testAuth,
    });
  });
  afterAll(async () => {
    const query = `TaskQueue = "${names.control}" AND ExecutionStatus = "Running"`;
    for await (const w of temporal.client.workflow.list({ query }))
      await temporal.client.workflow
        .getHandle(w.workflowId, w.runId)
        .terminate('test done')
        .catch(() => undefined);
    await app?.close();
    await registry?.close();
    await temporal?.close();
  });

  const start = (key: string, payload: object = body) =>
    app.inject({
      method: 'POST',
      url: '/v1/lifecycles',
      headers: { ...as('tester'), 'idempotency-key': key },
      payload,
    });
  /** Every run of the ID: the latest from describe (strongly consistent), all of them once listed. */
  const runsOf = async (id: string): Promise<string[]> => {
    const latest = (await temporal.client.workflow.getHandle(id).describe()).runId;
    return until(`the run ${latest} listed`, async () => {
      const runs: string[] = [];
      for await (const w of temporal.client.workflow.list({ query: `WorkflowId = "${id}"` })) runs.push(w.runId);
      return runs.includes(latest) ? runs : undefined;
    });
  };

  it('starts one workflow for the same key sent five times at once, running or closed', async () => {
    const key = `${names.prefix}-a`;
    const answers = await Promise.all(Array.from({ length: 5 }, () => start(key)));
    for (const a of answers) expect(a.statusCode, a.body).toBe(202);
    const first = answers[0]!.json<{ id: string; runId: string }>();
    for (const a of answers) expect(a.json()).toEqual(first);
    expect(first.id).toBe(`lifecycle/pm/${key}`);
    expect(await runsOf(first.id)).toEqual([first.runId]);

    // Closed, the key still names the same lifecycle: nothing runs again.
    await temporal.client.workflow.getHandle(first.id).terminate('closing it for the test');
    const later = await start(key);
    expect(later.statusCode, later.body).toBe(202);
    expect(later.json()).toEqual(first);
    expect(await runsOf(first.id)).toEqual([first.runId]);
  });

  it('refuses the same key with another body, while running and after it closed', async () => {
    const key = `${names.prefix}-b`;
    const first = await start(key);
    expect(first.statusCode, first.body).toBe(202);
    const other = { ...body, params: { n_estimators: 5 } };
    const running = await start(key, other);
    expect(running.statusCode, running.body).toBe(422);
    expect(running.json()).toMatchObject({ error: 'IdempotencyKeyReused' });
    const id = first.json<{ id: string }>().id;
    await temporal.client.workflow.getHandle(id).terminate('closing it for the test');
    const closed = await start(key, other);
    expect(closed.statusCode, closed.body).toBe(422);
    expect(await runsOf(id)).toHaveLength(1);
  });

  describe('pipelines, named by their spec', () => {
    const post = (name: string, key?: string, where = 'x > 1') =>
      app.inject({
        method: 'POST',
        url: '/v1/pipelines',
        headers: { ...as('tester'), ...(key ? { 'idempotency-key': key } : {}) },
        payload: { ...validPipeline(name), transforms: [{ ...validPipeline(name).transforms[0], where }] },
      });

    it(
      'starts one pipeline for the same keyed request sent five times at once, ' +
        'and answers it again after it stopped',
      async () => {
        const name = `${names.prefix}-p1`;
        const key = `${names.prefix}-pk1`;
        const answers = await Promise.all(Array.from({ length: 5 }, () => post(name, key)));
        for (const a of answers) expect(a.statusCode, a.body).toBe(202);
        const first = answers[0]!.json<{ id: string; runId: string }>();
        for (const a of answers) expect(a.json()).toEqual(first);
        expect(first.id).toBe(`pipeline/${name}`);
        expect(await runsOf(first.id)).toEqual([first.runId]);

        await temporal.client.workflow.getHandle(first.id).terminate('closing it for the test');
        const again = await post(name, key);
        expect(again.statusCode, again.body).toBe(202);
        expect(again.json()).toEqual(first);
        expect(await runsOf(first.id)).toEqual([first.runId]);
        // A new key is a new request: the stopped pipeline's name starts again.
        const renewed = await post(name, `${key}-2`);
        expect(renewed.statusCode, renewed.body).toBe(202);
        expect(renewed.json<{ runId: string }>().runId).not.toBe(first.runId);
        expect(await runsOf(first.id)).toHaveLength(2);
      },
    );

    it('refuses another body under the running key (422), and any other start of the running name (409)', async () => {
      const name = `${names.prefix}-p2`;
      const key = `${names.prefix}-pk2`;
      const first = await post(name, key);
      expect(first.statusCode, first.body).toBe(202);
      const other = await post(name, key, 'x > 2');
      expect(other.statusCode, other.body).toBe(422);
      expect(other.json()).toMatchObject({ error: 'IdempotencyKeyReused', field: 'headers.idempotency-key' });
      const unkeyed = await post(name);
      expect(unkeyed.statusCode, unkeyed.body).toBe(409);
      const otherKey = await post(name, `${key}-other`);
      expect(otherKey.statusCode, otherKey.body).toBe(409);
      expect(otherKey.json()).toMatchObject({ error: 'Conflict', message: `pipeline "${name}" already exists` });
      expect(await runsOf(first.json<{ id: string }>().id)).toHaveLength(1);
    });

    it('answers an unkeyed repeat of a running pipeline with 409, as before', async () => {
      const name = `${names.prefix}-p3`;
      expect((await post(name)).statusCode).toBe(202);
      const again = await post(name);
      expect(again.statusCode, again.body).toBe(409);
    });
  });

  it('answers 404 for the status of a lifecycle Temporal does not know', async () => {
    const res = await app.inject({
      method: 'GET',
      url: `/v1/lifecycles/pm/${names.prefix}-none`,
      headers: as('tester'),
    });
    expect(res.statusCode, res.body).toBe(404);
    expect(res.json()).toEqual({ error: 'NotFound', message: `no workflow "lifecycle/pm/${names.prefix}-none"` });
  });
});
