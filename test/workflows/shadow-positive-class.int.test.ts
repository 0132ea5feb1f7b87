import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../../core/kafka/adapter';
import { KServeClient } from '../../core/serving/kserve-client';
import { startModelServer } from '../../core/serving/model-server';
import type { ShadowReport } from '../../core/shadow/report';
import { createRng, generateLabelled } from '../../examples/predictive-maintenance/data/sensors';
import { statusQuery } from '../../workflows/definitions';
import { buildTestApp, finishedLifecycle, startLifecycle } from '../helpers/lifecycle';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { config, startTestStack, type TestStack } from '../helpers/stack';
import { until } from '../helpers/until';

const manifest = readFileSync(
  path.resolve(import.meta.dirname, '../../examples/predictive-maintenance/model/mloop.yaml'),
  'utf8',
).replace(/gates:\n.*$/s, 'gates:\n  - { metric: roc_auc, threshold: 0.55 }\n');
const features = ['temperature_c', 'vibration_mm_s', 'pressure_bar', 'rpm', 'operating_hours'].map((name) => ({
  name,
  type: 'number' as const,
}));
// The example's training prints its count of failures as a sum of 0/1 labels: count "yes" instead.
const train = readFileSync(
  path.resolve(import.meta.dirname, '../../examples/predictive-maintenance/model/train.py'),
  'utf8',
).replace('int(y.sum())', "int((y == 'yes').sum())");
const yesNo = (failure: number): string => (failure === 1 ? 'yes' : 'no');

describe('shadow test of a model with text classes yes/no (real Temporal, Kafka, model servers)', () => {
  let stack: TestStack;
  let app: FastifyInstance;
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'mloop-test-shadow-positive' });

  beforeAll(async () => {
    stack = await startTestStack('shadow-positive-class');
    app = await buildTestApp(stack);
  });
  afterAll(async () => {
    await app?.close();
    await kafka.close();
    await stack?.stop();
  });

  it('scores precision, recall and f1 of the positive class that training chose and the version records', async () => {
    const model = `pm-yes-no-${randomUUID().slice(0, 6)}`;
    const repo = await createExampleModelRepo({ 'mloop.yaml': manifest, 'train.py': train });
    // The example's history with the failure column as text: no/yes instead of 0/1.
    const dataset = await createExampleDataset(3000, 17);
    const lines = readFileSync(dataset, 'utf8').trimEnd().split('\n');
    const relabelled = lines.map((line, i) =>
      i === 0 ? line : line.replace(/,([01])$/, (_, f: string) => `,${yesNo(Number(f))}`),
    );
    writeFileSync(dataset, `${relabelled.join('\n')}\n`);

    const input = `test.live.${randomUUID()}`;
    const labels = `test.labels.${randomUUID()}`;
    await kafka.ensureTopic(input, 2);
    await kafka.ensureTopic(labels, 2);
    const n = 400;
    const id = await startLifecycle(app, {
      model,
      repo: { url: repo.url, ref: 'main', path: repo.path },
      dataset: { path: dataset },
      shadow: {
        inputTopic: input,
        labelsTopic: labels,
        labelField: 'failure',
        stopAfter: { messages: n },
        thresholds: { minMessages: n },
      },
    });
    const handle = stack.client.workflow.getHandle(id);
    await until(
      'the shadow stage to report',
      async () => {
        const s = await handle.query(statusQuery);
        if (s.stage === 'failed') throw new Error(`the lifecycle failed before its shadow stage: ${s.error}`);
        return s.shadow ? true : undefined;
      },
      120_000,
    );
    const rng = createRng(23);
    const readings = Array.from({ length: n }, (_, i) => ({ key: `r-${i}`, ...generateLabelled(rng) }));
    await kafka.produce(
      labels,
      readings.map((r) => ({ key: r.key, value: JSON.stringify({ failure: yesNo(r.failure) }) })),
    );
    await until('the labels to arrive', async () =>
      (await handle.query(statusQuery)).shadow?.labels.waiting === n ? true : undefined,
    );
    await kafka.produce(
      input,
      readings.map(({ key, failure: _label, ...r }) => ({ key, value: JSON.stringify(r) })),
    );

    const done = await finishedLifecycle<{ shadowTest: { report: ShadowReport } }>(app, stack, id);
    expect(done.status, done.error).toBe('COMPLETED');
    const r = done.shadowTest.report;
    const version = await stack.deps.registry.getVersion(model, 1);
    expect(version.positiveClass).toBe('yes');
    expect(r.labels.joined).toBe(n);

    // The same figures from the version's own server, positive class "yes".
    const server = await startModelServer({
      python: config.pythonExecutable,
      runtimeDir: config.runtimeDir,
      modelDir: path.join(repo.url, repo.path),
      artifact: stack.deps.artifacts.pathOf(version.artifactDigest),
      modelName: model,
      modelVersion: '1',
    });
    let predictions: Array<string | number>;
    try {
      ({ predictions } = await new KServeClient(server.url, model).infer(readings, features));
    } finally {
      await server.stop();
    }
    const pairs = predictions.map((p, i) => ({ p: String(p), y: yesNo(readings[i]?.failure ?? 0) }));
    const tp = pairs.filter((x) => x.p === 'yes' && x.y === 'yes').length;
    const precision = tp / pairs.filter((x) => x.p === 'yes').length;
    const recall = tp / pairs.filter((x) => x.y === 'yes').length;
    expect(tp).toBeGreaterThan(0);
    expect(r.candidate.metrics.precision).toBeCloseTo(precision, 12);
    expect(r.candidate.metrics.recall).toBeCloseTo(recall, 12);
    expect(r.candidate.metrics.f1).toBeCloseTo((2 * precision * recall) / (precision + recall), 12);
    expect(r.positiveClass).toBe('yes');
  });
});
