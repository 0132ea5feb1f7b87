import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, finishedLifecycle, startLifecycle } from '../helpers/lifecycle';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { startTestStack, type TestStack } from '../helpers/stack';
import { until } from '../helpers/until';

describe("one visibility filter shows a model's whole story", () => {
  let stack: TestStack;
  let app: FastifyInstance;

  beforeAll(async () => {
    stack = await startTestStack('search-attributes');
    app = await buildTestApp(stack);
  });
  afterAll(async () => {
    await app?.close();
    await stack?.stop();
  });

  it('MloopModel="<model>" finds the lifecycle and its train child, each with its stage', async () => {
    const repo = await createExampleModelRepo();
    const dataset = await createExampleDataset(300, 5);
    const model = `pm-sa-${randomUUID().slice(0, 8)}`;
    const id = await startLifecycle(app, {
      model,
      repo: { url: repo.url, ref: 'main', path: repo.path },
      dataset: { path: dataset },
    });
    const done = await finishedLifecycle(app, stack, id);
    expect(done.status, done.error).toBe('COMPLETED');

    // Visibility is eventually consistent: wait until both runs are listed with their final attributes.
    const found = await until('the lifecycle and its train child in visibility', async () => {
      const rows: Array<{ id: string; type: string; stage: unknown }> = [];
      for await (const w of stack.client.workflow.list({ query: `MloopModel="${model}"` })) {
        rows.push({ id: w.workflowId, type: w.type, stage: w.searchAttributes.MloopStage?.[0] });
      }
      rows.sort((a, b) => a.id.localeCompare(b.id));
      return rows.length === 2 && rows[0]?.stage === 'done' ? rows : undefined;
    });
    expect(found).toEqual([
      { id, type: 'modelLifecycle', stage: 'done' },
      { id: `${id}/train`, type: 'trainModel', stage: 'train' },
    ]);
  });
});
