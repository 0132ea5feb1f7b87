import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../../core/kafka/adapter';
import { historicalRows } from '../../examples/predictive-maintenance/data/sensors';
import { recordHistories } from '../helpers/histories';
import { as } from '../helpers/auth';
import { buildTestApp, finishedLifecycle, startLifecycle } from '../helpers/lifecycle';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { config, startTestStack, type TestStack } from '../helpers/stack';

interface Done {
  version: number;
  commitSha: string;
  train: {
    dataset: { uri: string; fingerprint: string };
    artifactDigest: string;
    evaluation: { champion: { version: number; metrics: Record<string, number> } | null };
  };
  metrics: Record<string, number>;
}

describe('train stage on the real stack (Temporal, Kafka, git, Python)', () => {
  let stack: TestStack;
  let app: FastifyInstance;
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'mloop-test-train-stage' });

  beforeAll(async () => {
    stack = await startTestStack('train-stage');
    app = await buildTestApp(stack);
  });
  afterAll(async () => {
    await app?.close();
    await kafka.close();
    await stack?.stop();
  });

  it(
    'trains from a CSV file and from a Kafka topic replay, recording lineage; ' + 'the replay fingerprint is stable',
    async () => {
      const repo = await createExampleModelRepo();
      const csv = await createExampleDataset(3000, 42);
      const model = 'pm-sources';
      const base = { model, repo: { url: repo.url, ref: 'main', path: repo.path } };

      const fromCsv = await finishedLifecycle<Done>(
        app,
        stack,
        await startLifecycle(app, { ...base, dataset: { path: csv } }),
      );
      expect(fromCsv.status, fromCsv.error).toBe('COMPLETED');

      const topic = `test.history.${randomUUID()}`;
      await kafka.ensureTopic(topic, 3);
      const rows = [...historicalRows(3000, 42)];
      for (let i = 0; i < rows.length; i += 500) {
        await kafka.produce(
          topic,
          rows.slice(i, i + 500).map((r) => ({ key: r.machine_id, value: JSON.stringify(r) })),
        );
      }
      const fromTopic = await finishedLifecycle<Done>(
        app,
        stack,
        await startLifecycle(app, { ...base, dataset: { kafka: { topic } } }),
      );
      expect(fromTopic.status, fromTopic.error).toBe('COMPLETED');
      const again = await finishedLifecycle<Done>(
        app,
        stack,
        await startLifecycle(app, { ...base, dataset: { kafka: { topic } } }),
      );
      expect(again.status, again.error).toBe('COMPLETED');

      expect(fromTopic.train.dataset.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(again.train.dataset.fingerprint).toBe(fromTopic.train.dataset.fingerprint);
      expect(fromTopic.train.dataset.uri).toMatch(
        new RegExp(`^kafka://${topic.replace(/\./g, '\\.')}\\?0=0-\\d+&1=0-\\d+&2=0-\\d+$`),
      );

      const versions = await stack.deps.registry.listVersions(model);
      expect(versions.map((v) => v.version)).toEqual([1, 2, 3]);
      const [v1, v2, v3] = versions;
      expect(v1).toMatchObject({ datasetUri: csv, commitSha: repo.sha, repoPath: repo.path, createdBy: 'tester' });
      expect(v2).toMatchObject({
        datasetUri: fromTopic.train.dataset.uri,
        datasetFingerprint: fromTopic.train.dataset.fingerprint,
        commitSha: repo.sha,
      });
      expect(v3?.datasetFingerprint).toBe(v2?.datasetFingerprint);
      // Same commit, same records, same params: the artifacts are byte-identical.
      expect(v3?.artifactDigest).toBe(v2?.artifactDigest);
      for (const v of versions) expect(await stack.deps.artifacts.verify(v.artifactDigest)).toBe(true);
      expect(v1?.metrics.roc_auc).toBeGreaterThan(0.8);
    },
  );

  it(
    'scores a new version against the champion on the same holdout; ' +
      'a failing gate stops the lifecycle with the metric and both values',
    async () => {
      const repo = await createExampleModelRepo();
      const csv = await createExampleDataset(3000, 7);
      const model = 'pm-gates';
      const base = { model, repo: { url: repo.url, ref: 'main', path: repo.path }, dataset: { path: csv } };

      const first = await finishedLifecycle<Done>(app, stack, await startLifecycle(app, base));
      expect(first.status, first.error).toBe('COMPLETED');
      expect(first.train.evaluation.champion).toBeNull();
      const promote1 = await app.inject({
        method: 'PUT',
        url: `/v1/models/${model}/aliases/champion`,
        headers: as('carol'),
        payload: { version: 1 },
      });
      expect(promote1.statusCode, promote1.body).toBe(200);
      const betweenPromotions = new Date().toISOString();

      // A single shallow stump is clearly worse than the champion's 150 trees.
      const weakId = await startLifecycle(app, { ...base, params: { n_estimators: 1, max_depth: 1, subsample: 1.0 } });
      const weak = await finishedLifecycle<Done>(app, stack, weakId);
      expect(weak.status).toBe('FAILED');
      expect(weak.stage).toBe('failed');
      const m = /roc_auc: candidate ([\d.]+) vs champion ([\d.]+)/.exec(weak.error ?? '');
      expect(m, weak.error).not.toBeNull();
      expect(Number(m?.[1])).toBeLessThan(Number(m?.[2]));
      expect(Number(m?.[2])).toBeCloseTo(first.metrics.roc_auc ?? NaN, 4);
      expect((await stack.deps.registry.listVersions(model)).map((v) => v.version)).toEqual([1]);

      // The same code and data again: the champion scores exactly its own training metrics, which
      // proves both were measured on the identical holdout; an equal score passes `min_absolute_change: 0`.
      const equalId = await startLifecycle(app, base);
      const equal = await finishedLifecycle<Done>(app, stack, equalId);
      await recordHistories({
        'train-model.champion-compared': `${equalId}/train`,
        'train-model.gate-failed': `${weakId}/train`,
        'model-lifecycle.gate-failed': weakId,
      });
      expect(equal.status, equal.error).toBe('COMPLETED');
      expect(equal.version).toBe(2);
      expect(equal.train.evaluation.champion?.version).toBe(1);
      expect(equal.train.evaluation.champion?.metrics).toEqual(first.metrics);

      const runs = (await app.inject({ method: 'GET', url: `/v1/models/${model}/runs`, headers: as('tester') })).json<{
        runs: Array<{
          outcome: string;
          evaluation: { holdout: { digest: string }; champion: { version: number } | null };
        }>;
      }>().runs;
      expect(runs.map((r) => r.outcome)).toEqual(['passed', 'gate_failed', 'passed']);
      expect(new Set(runs.map((r) => r.evaluation.holdout.digest)).size).toBe(1);
      expect(runs[1]?.evaluation.champion?.version).toBe(1);

      const promote2 = await app.inject({
        method: 'PUT',
        url: `/v1/models/${model}/aliases/champion`,
        headers: as('carol'),
        payload: { version: 2 },
      });
      expect(promote2.statusCode, promote2.body).toBe(200);
      const at = async (t: string) =>
        (
          await app.inject({
            method: 'GET',
            url: `/v1/models/${model}/history?at=${encodeURIComponent(t)}`,
            headers: as('tester'),
          })
        ).json<{ aliases: Record<string, number> }>().aliases.champion;
      expect(await at('2000-01-01T00:00:00Z')).toBeUndefined();
      expect(await at(betweenPromotions)).toBe(1);
      expect(await at(new Date().toISOString())).toBe(2);
    },
  );

  const brokenManifest =
    `name: predictive-maintenance\ntask: clustering\ntrain: train:train\npredict: predict:predict\n` +
    `features:\n  - { name: rpm, type: number }\ntarget: failure\n`;
  const raisingTrain = `def train(X, y, params):\n    raise ValueError("sensor calibration table missing")\n`;

  it.each([
    [
      'an invalid manifest',
      { 'mloop.yaml': brokenManifest },
      null,
      /mloop\.yaml: field 'task': must be one of classification, regression \(got 'clustering'\)/,
    ],
    // The API gives one line; the traceback stays in the workflow's history (lifecycles.int.test.ts).
    ['model code that raises', { 'train.py': raisingTrain }, null, /ValueError: sensor calibration table missing$/],
    // Rows, columns and problems are named; the cells' text never is.
    [
      'a dataset with bad rows',
      {},
      'bad-rows',
      new RegExp(
        /^(?![\s\S]*cell-text)[\s\S]*2 bad rows: row 3 column 'rpm': not a number; /.source +
          /row 5 column 'pressure_bar': above the declared maximum 50/.source,
      ),
    ],
  ] as const)('reports %s clearly and registers nothing', async (_name, overrides, datasetKind, expected) => {
    const repo = await createExampleModelRepo(overrides);
    let dataset = await createExampleDataset(200, 3);
    if (datasetKind === 'bad-rows') {
      const lines = (await fs.readFile(dataset, 'utf8')).split('\n');
      const header = lines[0]?.split(',') ?? [];
      const set = (row: number, column: string, value: string): void => {
        const cells = lines[row]?.split(',') ?? [];
        cells[header.indexOf(column)] = value;
        lines[row] = cells.join(',');
      };
      set(3, 'rpm', 'cell-text');
      set(5, 'pressure_bar', '99');
      dataset = path.join(path.dirname(dataset), 'bad.csv');
      await fs.writeFile(dataset, lines.join('\n'));
    }
    const model = `pm-bad-${randomUUID().slice(0, 6)}`;
    const done = await finishedLifecycle(
      app,
      stack,
      await startLifecycle(app, {
        model,
        repo: { url: repo.url, ref: 'main', path: repo.path },
        dataset: { path: dataset },
      }),
    );
    expect(done.status).toBe('FAILED');
    expect(done.error).toMatch(expected);
    expect(await stack.deps.registry.listVersions(model)).toEqual([]);
    expect(await stack.deps.registry.listRuns(model)).toEqual([]);
  });
});
