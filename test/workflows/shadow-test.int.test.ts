import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter, type ConsumedRecord } from '../../core/kafka/adapter';
import { workerRegistry } from '../../core/metrics/series';
import { KServeClient } from '../../core/serving/kserve-client';
import { startModelServer } from '../../core/serving/model-server';
import type { ShadowReport } from '../../core/shadow/report';
import { createRng, generateLabelled } from '../../examples/predictive-maintenance/data/sensors';
import { statusQuery, stopShadowSignal } from '../../workflows/definitions';
import { recordHistories } from '../helpers/histories';
import { as } from '../helpers/auth';
import { buildTestApp, finishedLifecycle, startLifecycle } from '../helpers/lifecycle';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { config, startTestStack, type TestStack } from '../helpers/stack';
import { until } from '../helpers/until';

// Shadow tests judge live behaviour; these models only need to clear a low training gate first.
const relaxedManifest = readFileSync(
  path.resolve(import.meta.dirname, '../../examples/predictive-maintenance/model/mloop.yaml'),
  'utf8',
).replace(/gates:\n.*$/s, 'gates:\n  - { metric: roc_auc, threshold: 0.55 }\n');

const features = ['temperature_c', 'vibration_mm_s', 'pressure_bar', 'rpm', 'operating_hours'].map((name) => ({
  name,
  type: 'number' as const,
}));

describe('shadow test on a live topic (real Temporal, Kafka, model servers)', () => {
  let stack: TestStack;
  let app: FastifyInstance;
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'mloop-test-shadow' });

  beforeAll(async () => {
    stack = await startTestStack('shadow-test');
    app = await buildTestApp(stack);
  });
  afterAll(async () => {
    await app?.close();
    await kafka.close();
    await stack?.stop();
  });

  const readAll = async (topic: string, expected: number): Promise<ConsumedRecord[]> => {
    const out: ConsumedRecord[] = [];
    const offsets = await kafka.partitionOffsets(topic);
    await kafka.readRanges(
      topic,
      offsets.map((o) => ({ partition: o.partition, from: o.low, to: o.high })),
      async (records) => void out.push(...records),
    );
    expect(out.length).toBeGreaterThanOrEqual(expected);
    return out;
  };

  /** A new model whose version 1, trained on `rows` generated rows, is the champion. */
  async function championV1(
    name: string,
    rows: number,
    seed: number,
  ): Promise<{ model: string; repo: { url: string; path: string }; dataset: string }> {
    const model = `${name}-${randomUUID().slice(0, 6)}`;
    const repo = await createExampleModelRepo({ 'mloop.yaml': relaxedManifest });
    const dataset = await createExampleDataset(rows, seed);
    const v1 = await finishedLifecycle(
      app,
      stack,
      await startLifecycle(app, {
        model,
        repo: { url: repo.url, ref: 'main', path: repo.path },
        dataset: { path: dataset },
      }),
    );
    expect(v1.status, v1.error).toBe('COMPLETED');
    await app.inject({
      method: 'PUT',
      url: `/v1/models/${model}/aliases/champion`,
      headers: as('tester'),
      payload: { version: 1 },
    });
    return { model, repo, dataset };
  }

  /** Starts a lifecycle with a shadow stage and waits until the shadow test reads its topic. */
  async function startShadowed(
    model: string,
    repo: { url: string; path: string },
    dataset: string,
    params: object,
    shadow: object,
  ): Promise<string> {
    const id = await startLifecycle(app, {
      model,
      repo: { url: repo.url, ref: 'main', path: repo.path },
      dataset: { path: dataset },
      params,
      shadow,
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
    return id;
  }

  it(
    'scores live messages beside the champion, dead-letters bad records, ' +
      'joins labels, and passes within its thresholds',
    async () => {
      const { model, repo, dataset } = await championV1('pm-shadow', 3000, 11);

      const input = `test.live.${randomUUID()}`;
      const labels = `test.labels.${randomUUID()}`;
      await kafka.ensureTopic(input, 3);
      await kafka.ensureTopic(labels, 2);
      const valid = 300;
      const bad = 12;
      const id = await startShadowed(
        model,
        repo,
        dataset,
        { n_estimators: 40, max_depth: 3 },
        {
          inputTopic: input,
          labelsTopic: labels,
          labelField: 'failure',
          stopAfter: { messages: valid + bad },
          thresholds: { minMessages: valid, minAgreement: 0.8, maxFailureRate: 0 },
        },
      );

      const rng = createRng(99);
      const readings = Array.from({ length: valid }, (_, i) => ({ key: `reading-${i}`, ...generateLabelled(rng) }));
      const records = readings.map(({ key, failure: _label, ...r }) => ({ key, value: JSON.stringify(r) }));
      const malformed = [
        ...Array.from({ length: bad / 2 }, (_, i) => ({ key: `bad-json-${i}`, value: '{not json' })),
        ...Array.from({ length: bad / 2 }, (_, i) => ({
          key: `bad-schema-${i}`,
          value: JSON.stringify({ temperature_c: 'hot' }),
        })),
      ];
      // Interleave bad records among good ones, as a real feed would have them.
      const feed = records.flatMap((r, i) =>
        i % 25 === 0 && malformed.length ? [r, malformed.pop() as { key: string; value: string }] : [r],
      );
      // Ground truth first (the join takes either order), so that every label is in before the
      // test stops at its message count.
      await kafka.produce(
        labels,
        readings.map((r) => ({ key: r.key, value: JSON.stringify({ failure: r.failure }) })),
      );
      await until('the labels to arrive', async () =>
        (await stack.client.workflow.getHandle(id).query(statusQuery)).shadow?.labels.waiting === valid
          ? true
          : undefined,
      );
      for (let i = 0; i < feed.length; i += 40) await kafka.produce(input, feed.slice(i, i + 40));

      const done = await finishedLifecycle<{
        shadowTest: { report: ShadowReport; judgement: { passed: boolean; reasons: string[] } };
      }>(app, stack, id);
      expect(done.status, done.error).toBe('COMPLETED');
      const r = done.shadowTest.report;
      expect(done.shadowTest.judgement).toEqual({ passed: true, reasons: [] });
      expect(r.messages).toBe(valid + bad);
      expect(r.candidate.scored).toBe(valid);
      expect(r.champion?.scored).toBe(valid);
      expect(r.deadLettered.total).toBe(bad);
      expect(r.comparison.agreement).toBeGreaterThan(0.8);
      expect(r.candidate.latencyMs.p99).toBeGreaterThan(0);
      // The worker's series count every applied message once, and the lag series ends with the test.
      const shadowSeries = await workerRegistry.getSingleMetric('mloop_shadow_messages_total')?.get();
      expect(shadowSeries?.values.find((v) => v.labels.model === model)?.value).toBe(valid + bad);
      const lag = await workerRegistry.getSingleMetric('mloop_shadow_lag_messages')?.get();
      expect(lag?.values.find((v) => v.labels.model === model)).toBeUndefined();

      // Dead letters carry the reason; the shadow topic carries the candidate's outputs.
      const dlq = await readAll(`${model}.shadow.dlq`, bad);
      expect(dlq.map((d) => d.headers?.['mloop-reason']).sort()).toEqual(
        [
          ...Array(bad / 2).fill('field "temperature_c" is not a number'),
          ...Array(bad / 2).fill('not a JSON object'),
        ].sort(),
      );
      const shadowOut = await readAll(`${model}.shadow`, valid);
      expect(new Set(shadowOut.map((o) => o.key)).size).toBe(valid);
      expect(shadowOut.every((o) => o.headers?.['mloop-version'] === '2')).toBe(true);

      // Label metrics match a direct computation: both versions' servers scoring the same records.
      const direct = async (version: number): Promise<number> => {
        const v = await stack.deps.registry.getVersion(model, version);
        const server = await startModelServer({
          python: config.pythonExecutable,
          runtimeDir: config.runtimeDir,
          modelDir: path.join(repo.url, repo.path),
          artifact: stack.deps.artifacts.pathOf(v.artifactDigest),
          modelName: model,
          modelVersion: String(version),
        });
        try {
          const { predictions } = await new KServeClient(server.url, model).infer(readings, features);
          return predictions.filter((p, i) => Number(p) === readings[i]?.failure).length / readings.length;
        } finally {
          await server.stop();
        }
      };
      expect(r.labels.joined).toBe(valid);
      expect(r.candidate.metrics.accuracy).toBeCloseTo(await direct(2), 10);
      expect(r.champion?.metrics.accuracy).toBeCloseTo(await direct(1), 10);

      await recordHistories({ 'model-lifecycle.shadow-passed': id, 'shadow-test.passed': `${id}/shadow` });
      const stored = await stack.deps.registry.listShadowReports(model, 2);
      expect(stored).toHaveLength(1);
      expect(stored[0]?.passed).toBe(true);
    },
  );

  it(
    'fails the stage when the candidate disagrees with the champion beyond the threshold, ' + 'with the figures',
    async () => {
      const { model, repo, dataset } = await championV1('pm-shadow-fail', 2000, 5);

      const input = `test.live.${randomUUID()}`;
      await kafka.ensureTopic(input, 2);
      // A stump that predicts from one split disagrees with the champion on a good share of rows.
      const id = await startShadowed(
        model,
        repo,
        dataset,
        { n_estimators: 1, max_depth: 1, learning_rate: 1.0, min_samples_leaf: 1 },
        {
          inputTopic: input,
          stopAfter: { messages: 200 },
          thresholds: { minAgreement: 0.999 },
        },
      );
      const rng = createRng(3);
      await kafka.produce(
        input,
        Array.from({ length: 200 }, (_, i) => {
          const { failure: _label, ...r } = generateLabelled(rng);
          return { key: `r-${i}`, value: JSON.stringify(r) };
        }),
      );
      const done = await finishedLifecycle(app, stack, id);
      expect(done.status).toBe('FAILED');
      expect(done.error).toMatch(
        /shadow test failed: agreement 0\.\d+ is below the minimum 0\.999 \(\d+ of 200 messages\)/,
      );
      expect((await stack.deps.registry.listShadowReports(model, 2))[0]?.passed).toBe(false);
    },
  );

  it('ends early on a stopShadow signal with the messages scored so far', async () => {
    const model = `pm-shadow-stop-${randomUUID().slice(0, 6)}`;
    const repo = await createExampleModelRepo({ 'mloop.yaml': relaxedManifest });
    const input = `test.live.${randomUUID()}`;
    await kafka.ensureTopic(input, 2);
    const id = await startShadowed(
      model,
      repo,
      await createExampleDataset(1000, 8),
      {},
      { inputTopic: input, stopAfter: { seconds: 3600 }, thresholds: { minMessages: 40 } },
    );
    const rng = createRng(4);
    await kafka.produce(
      input,
      Array.from({ length: 40 }, (_, i) => ({ key: `r-${i}`, value: JSON.stringify(generateLabelled(rng)) })),
    );
    const handle = stack.client.workflow.getHandle(id);
    await until('40 messages to be scored', async () =>
      (await handle.query(statusQuery)).shadow?.messages === 40 ? true : undefined,
    );
    await handle.signal(stopShadowSignal, { by: 'erin' });
    const done = await finishedLifecycle<{ shadowTest: { report: ShadowReport } }>(app, stack, id);
    expect(done.status, done.error).toBe('COMPLETED');
    expect(done.shadowTest.report.messages).toBe(40);
    expect(done.shadowTest.report.elapsedMs).toBeLessThan(120_000);
  });

  it('starts at a point in time and ends at its duration', async () => {
    const model = `pm-shadow-time-${randomUUID().slice(0, 6)}`;
    const repo = await createExampleModelRepo({ 'mloop.yaml': relaxedManifest });
    const input = `test.live.${randomUUID()}`;
    await kafka.ensureTopic(input, 2);
    const rng = createRng(6);
    const reading = (i: number) => ({ key: `r-${i}`, value: JSON.stringify(generateLabelled(rng)) });
    // 30 old readings, then 25 after the start time: only the later ones are in the test.
    await kafka.produce(
      input,
      Array.from({ length: 30 }, (_, i) => reading(i)),
    );
    await new Promise((r) => setTimeout(r, 50));
    const from = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 50));
    await kafka.produce(
      input,
      Array.from({ length: 25 }, (_, i) => reading(100 + i)),
    );
    const started = Date.now();
    const id = await startShadowed(
      model,
      repo,
      await createExampleDataset(1000, 9),
      {},
      {
        inputTopic: input,
        startAt: { timestamp: from },
        stopAfter: { seconds: 25 },
        thresholds: { minMessages: 25 },
      },
    );
    const done = await finishedLifecycle<{ shadowTest: { report: ShadowReport } }>(app, stack, id);
    expect(done.status, done.error).toBe('COMPLETED');
    expect(done.shadowTest.report.messages).toBe(25);
    // The deadline counts from the shadow stage's start, which follows training.
    expect(Date.now() - started).toBeGreaterThanOrEqual(20_000);
  });
});
