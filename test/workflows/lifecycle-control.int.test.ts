import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusQuery, type LifecycleStatus } from '../../workflows/definitions';
import { as } from '../helpers/auth';
import { buildTestApp, lifecycleUrl, startLifecycle } from '../helpers/lifecycle';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { slowTrainPy } from '../helpers/slow-model';
import { startTestStack, type TestStack } from '../helpers/stack';
import { until } from '../helpers/until';
import { processesMentioning } from '../helpers/processes';

describe('a running lifecycle: live progress and abort (real stack)', () => {
  let stack: TestStack;
  let app: FastifyInstance;

  beforeAll(async () => {
    stack = await startTestStack('lifecycle-control');
    app = await buildTestApp(stack);
  });
  afterAll(async () => {
    await app?.close();
    await stack?.stop();
  });

  it('shows training progress and log lines in the status query, and abort stops the Python process', async () => {
    const repo = await createExampleModelRepo({ 'train.py': slowTrainPy });
    const id = await startLifecycle(app, {
      model: 'pm-slow',
      repo: { url: repo.url, ref: 'main', path: repo.path },
      dataset: { path: await createExampleDataset(200) },
    });
    const handle = stack.client.workflow.getHandle(id);

    const status = await until('epoch lines in the status', async () => {
      const s = await handle.query(statusQuery);
      return s.log?.some((l) => l === 'epoch 3') ? s : undefined;
    });
    expect(status.stage).toBe('train');
    expect(status.progress).toMatchObject({ phase: 'train', status: 'started' });
    const viaApi = (await app.inject({ method: 'GET', url: lifecycleUrl(id), headers: as('tester') })).json<
      LifecycleStatus & { status: string }
    >();
    expect(viaApi.status).toBe('RUNNING');
    expect(viaApi.log).toContain('epoch 1');
    expect(processesMentioning(stack.dataDir)).toContain('mloop_runtime train');

    const abort = await app.inject({
      method: 'POST',
      url: `${lifecycleUrl(id)}/abort`,
      headers: as('dave'),
      payload: { reason: 'wrong dataset' },
    });
    expect(abort.statusCode, abort.body).toBe(202);
    const result = await handle.result();
    expect(result.stage).toBe('aborted');
    expect(result.error).toBe('aborted by dave: wrong dataset');
    await until(
      'the training process to exit',
      async () => (processesMentioning(stack.dataDir) === '' ? true : undefined),
      20_000,
    );
    expect(await stack.deps.registry.listVersions('pm-slow')).toEqual([]);

    const again = await app.inject({
      method: 'POST',
      url: `${lifecycleUrl(id)}/abort`,
      headers: as('tester'),
      payload: { reason: 'twice' },
    });
    expect(again.statusCode).toBe(409);
  });
});
