import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordHistories } from '../helpers/histories';
import { as } from '../helpers/auth';
import { buildTestApp, lifecycleUrl } from '../helpers/lifecycle';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { startTestStack, type TestStack } from '../helpers/stack';

describe('POST /v1/lifecycles against the real Temporal server and Python runtime', () => {
  let stack: TestStack;
  let app: FastifyInstance;

  beforeAll(async () => {
    stack = await startTestStack('lifecycle-api');
    app = await buildTestApp(stack);
  });
  afterAll(async () => {
    await app?.close();
    await stack?.stop();
  });

  it('trains the example model, pins the commit and registers a content-addressed artifact', async () => {
    const repo = await createExampleModelRepo();
    const dataset = await createExampleDataset();

    const start = await app.inject({
      method: 'POST',
      url: '/v1/lifecycles',
      // The lineage names the token's subject, whatever the request claims.
      headers: { ...as('alice'), 'x-mloop-user': 'mallory' },
      payload: {
        model: 'predictive-maintenance',
        repo: { url: repo.url, ref: 'main', path: repo.path },
        dataset: { path: dataset },
      },
    });
    expect(start.statusCode, start.body).toBe(202);
    const { id, links } = start.json<{ id: string; links: { webUi: string } }>();
    expect(id).toMatch(/^lifecycle\/predictive-maintenance\//);
    expect(links.webUi).toContain(encodeURIComponent(id));

    const handle = stack.client.workflow.getHandle(id);
    await handle.result();

    const res = await app.inject({ method: 'GET', url: lifecycleUrl(id), headers: as('only-viewer') });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{
      status: string;
      stage: string;
      commitSha: string;
      version: number;
      train: {
        artifactDigest: string;
        artifactSize: number;
        dataset: { fingerprint: string };
        metrics: Record<string, number>;
        rows: { train: number; holdout: number };
      };
    }>();
    expect(body.status).toBe('COMPLETED');
    expect(body.stage).toBe('done');
    expect(body.commitSha).toBe(repo.sha);
    expect(body.version).toBe(1);

    // The registered artifact is the file whose sha256 is its name.
    const version = await stack.deps.registry.getVersion('predictive-maintenance', 1);
    expect(version.artifactDigest).toBe(body.train.artifactDigest);
    expect(version.commitSha).toBe(repo.sha);
    expect(version.createdBy).toBe('alice');
    const bytes = await fs.readFile(stack.deps.artifacts.pathOf(version.artifactDigest));
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(version.artifactDigest);
    expect(bytes.length).toBe(body.train.artifactSize);
    expect(body.train.dataset.fingerprint).toBe(version.datasetFingerprint);
    expect(version.datasetFingerprint).toBe(
      `sha256:${createHash('sha256')
        .update(await fs.readFile(dataset))
        .digest('hex')}`,
    );

    // Metrics come from the real Python run on the deterministic holdout.
    expect(body.train.rows.train + body.train.rows.holdout).toBe(3000);
    expect(body.train.metrics.roc_auc).toBeGreaterThan(0.8);
    expect(body.train.metrics.accuracy).toBeGreaterThan(0.85);
    expect(version.metrics).toEqual(body.train.metrics);

    // The Web UI can filter by the search attributes.
    const desc = await handle.describe();
    expect(desc.searchAttributes.MloopModel).toEqual(['predictive-maintenance']);
    expect(desc.searchAttributes.MloopStage).toEqual(['done']);
    expect(desc.memo?.commitSha).toBe(repo.sha);

    await recordHistories({ 'model-lifecycle.train-stage': id, 'train-model': `${id}/train` });
  });

  it('reports a failing training run with the stage, the error type and one line', async () => {
    const repo = await createExampleModelRepo();
    const dataset = path.join(path.dirname(await createExampleDataset(50)), 'no-such-file.csv');
    const start = await app.inject({
      method: 'POST',
      url: '/v1/lifecycles',
      headers: as('tester'),
      payload: {
        model: 'pm-missing-data',
        repo: { url: repo.url, ref: repo.sha, path: repo.path },
        dataset: { path: dataset },
      },
    });
    expect(start.statusCode, start.body).toBe(202);
    const { id } = start.json<{ id: string }>();
    await expect(stack.client.workflow.getHandle(id).result()).rejects.toThrow();
    const res = await app.inject({ method: 'GET', url: lifecycleUrl(id), headers: as('only-viewer') });
    const body = res.json<{ status: string; stage: string; error: string; errorType: string }>();
    expect(body.status).toBe('FAILED');
    expect(body.stage).toBe('failed');
    expect(body.errorType).toBe('DatasetInvalid');
    expect(body.error).toContain('no-such-file.csv');
    expect(body.error).not.toContain('\n');
    await expect(stack.deps.registry.listVersions('pm-missing-data')).resolves.toEqual([]);
  });

  it("keeps the traceback of failing model code out of the API's answer", async () => {
    const repo = await createExampleModelRepo({
      'train.py': [
        'def load_settings():',
        '    secret_line = "DB_PASSWORD=hunter2"',
        '    raise KeyError(secret_line[:2])',
        '',
        '',
        'def train(X, y, params):',
        '    load_settings()',
        '',
      ].join('\n'),
    });
    const start = await app.inject({
      method: 'POST',
      url: '/v1/lifecycles',
      headers: as('tester'),
      payload: {
        model: 'pm-traceback',
        repo: { url: repo.url, ref: repo.sha, path: repo.path },
        dataset: { path: await createExampleDataset(50) },
      },
    });
    expect(start.statusCode, start.body).toBe(202);
    const { id } = start.json<{ id: string }>();
    // The run's own failure keeps the traceback, for the Web UI and the workflow's history.
    const failure = await stack.client.workflow
      .getHandle(id)
      .result()
      .then(
        () => undefined,
        (err: unknown) => err as Error & { cause?: Error },
      );
    expect(failure?.cause?.message).toMatch(/Traceback[\s\S]*train\.py", line 3/);
    const res = await app.inject({ method: 'GET', url: lifecycleUrl(id), headers: as('only-viewer') });
    const body = res.json<{ status: string; error: string; errorType: string }>();
    expect(body.status).toBe('FAILED');
    expect(body.errorType).toBe('TrainingFailed');
    expect(body.error).toContain('KeyError');
    expect(res.body).not.toMatch(/Traceback|hunter2|train\.py|line \d/);
  });

  it('answers 404 for an unknown lifecycle', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/lifecycles/nope/does-not-exist',
      headers: as('only-viewer'),
    });
    expect(res.statusCode).toBe(404);
  });
});
