import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createKafkaAdapter,
  type ConsumedRecord,
  type KafkaPort,
  type StreamRecord,
} from '../../../core/kafka/adapter';
import { createTopicsAndWait } from '../../../core/kafka/create-topics';
import { batchBytes } from '../../../core/kafka/record-size';
import { PythonRuntime } from '../../../core/python/runtime';
import { KServeClient } from '../../../core/serving/kserve-client';
import { startModelServer, type RunningModelServer } from '../../../core/serving/model-server';
import { emptyShadowState, type ShadowReport } from '../../../core/shadow/metrics';
import { runShadow, type ServedModel } from '../../../core/shadow/runner';
import { createRng, featureColumns, generateReading } from '../../../examples/predictive-maintenance/data/sensors';
import { createExampleDataset } from '../../helpers/model-repo';
import { config, tempDir } from '../../helpers/stack';

const exampleModel = path.resolve(import.meta.dirname, '../../../examples/predictive-maintenance/model');

interface Topics {
  input: string;
  shadow: string;
  dlq: string;
}

/**
 * The shadow runner against the real broker and a real model server: records that used to stop
 * a test or take their batch down with them.
 */
describe('shadow runner with awkward records (real Kafka and model server)', () => {
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'mloop-test-runner' });
  const admin = new Kafka({ brokers: config.kafkaBrokers, clientId: 'mloop-test', logLevel: logLevel.NOTHING }).admin();
  let server: RunningModelServer;
  let candidate: ServedModel;

  beforeAll(async () => {
    const runtime = new PythonRuntime({ python: config.pythonExecutable, runtimeDir: config.runtimeDir });
    const outDir = path.join(await tempDir('runner-model'), 'out');
    const dataset = await createExampleDataset(1500, 42);
    await runtime.train({ modelDir: exampleModel, dataset, outDir, seed: 0, holdoutFraction: 0.2 });
    server = await startModelServer({
      python: config.pythonExecutable,
      runtimeDir: config.runtimeDir,
      modelDir: exampleModel,
      artifact: path.join(outDir, 'model.joblib'),
      modelName: 'pm',
      modelVersion: '1',
    });
    const features = featureColumns.map((name) => ({ name, type: 'number' as const }));
    candidate = { client: new KServeClient(server.url, 'pm'), features, version: 1 };
    await admin.connect();
  });
  afterAll(async () => {
    await server?.stop();
    await admin.disconnect();
    await kafka.close();
  });

  const readAll = async (topic: string): Promise<ConsumedRecord[]> => {
    const out: ConsumedRecord[] = [];
    const offsets = await kafka.partitionOffsets(topic);
    const ranges = offsets.map((o) => ({ partition: o.partition, from: o.low, to: o.high }));
    await kafka.readRanges(topic, ranges, async (records) => void out.push(...records));
    return out;
  };

  /** Topics of one test; the dead-letter topic with its own size limit when given. */
  async function topics(name: string, deadLetterMaxBytes?: number): Promise<Topics> {
    const id = randomUUID();
    const base = `test.runner.${name}`;
    const t = { input: `${base}.${id}`, shadow: `${base}.shadow.${id}`, dlq: `${base}.dlq.${id}` };
    await kafka.ensureTopic(t.input, 1);
    await kafka.ensureTopic(t.shadow, 1);
    if (deadLetterMaxBytes === undefined) await kafka.ensureTopic(t.dlq, 1);
    else {
      const configEntries = [{ name: 'max.message.bytes', value: String(deadLetterMaxBytes) }];
      await createTopicsAndWait(admin, [{ topic: t.dlq, numPartitions: 1, configEntries }]);
    }
    return t;
  }

  /** Runs a shadow test over the first `messages` input records; `batches` gets the offsets of each batch read. */
  async function shadow(t: Topics, messages: number, batches: string[][] = []): Promise<ShadowReport> {
    const watched: KafkaPort = {
      ...kafka,
      stream: (starts, onBatch, signal) =>
        kafka.stream(
          starts,
          async (records) => {
            batches.push(records.map((r) => r.offset));
            await onBatch(records);
          },
          signal,
        ),
    };
    const attempt = runShadow({
      kafka: watched,
      model: 'pm',
      candidate,
      champion: null,
      inputTopic: t.input,
      labelField: 'failure',
      shadowTopic: t.shadow,
      deadLetterTopic: t.dlq,
      checkpoint: {
        offsets: { 0: '0' },
        labelOffsets: {},
        state: { ...emptyShadowState('classification'), offsets: { 0: '0' } },
      },
      maxMessages: messages,
      deadlineMs: Date.now() + 90_000,
      elapsedBeforeMs: 0,
      onCheckpoint: () => undefined,
      signal: new AbortController().signal,
    });
    return attempt;
  }

  const rng = createRng(5);
  const reading = (key: string, extra: object = {}): StreamRecord => ({
    key,
    value: JSON.stringify({ ...generateReading(rng), ...extra }),
  });

  it('dead-letters a clipped copy of a record near the size limit, with its position, reason and size', async () => {
    const t = await topics('large', 200_000);
    const limit = await kafka.maxMessageBytes(t.input);
    expect(limit).toBe(1_048_588);
    expect(await kafka.maxMessageBytes(t.dlq)).toBe(200_000);
    // Not JSON, and as large as the input topic takes: a copy with headers fits neither topic.
    const huge = { key: 'huge', value: `#${'é'.repeat(1000)}${'x'.repeat(limit - 2200)}` };
    while (batchBytes([huge]) < limit) huge.value += 'x';
    expect(batchBytes([huge])).toBe(limit);
    await kafka.produce(t.input, [reading('a'), huge, reading('b')]);

    const report = await shadow(t, 3);
    expect(report.messages).toBe(3);
    expect(report.deadLettered).toEqual({ total: 1, byReason: { 'not a JSON object': 1 } });
    expect(report.candidate.scored).toBe(2);

    const [copy, ...others] = await readAll(t.dlq);
    expect(others).toEqual([]);
    expect(copy?.key).toBe('huge');
    expect(copy?.headers).toMatchObject({
      'mloop-reason': 'not a JSON object',
      'mloop-source': `${t.input}/0/1`,
      'mloop-source-topic': t.input,
      'mloop-source-partition': '0',
      'mloop-source-offset': '1',
      'mloop-truncated': 'true',
      'mloop-original-key-bytes': '4',
      'mloop-original-value-bytes': String(Buffer.byteLength(huge.value)),
    });
    const value = copy?.value ?? '';
    expect(huge.value.startsWith(value)).toBe(true);
    expect(batchBytes([{ key: 'huge', value, headers: copy?.headers ?? {} }])).toBeLessThanOrEqual(200_000);
    expect(Buffer.byteLength(value)).toBeGreaterThan(199_000);
    expect((await readAll(t.shadow)).map((o) => o.key)).toEqual(['a', 'b']);
  });

  it('scores a good 900 KB record whose batch also holds an out-of-range one', async () => {
    const t = await topics('rows');
    const big = reading('big', { notes: 'n'.repeat(900 * 1024) });
    const outOfRange = reading('hot', { temperature_c: 5000 });
    // One produce call, well under the limit: one record batch, read as one batch.
    await kafka.produce(t.input, [reading('r0'), outOfRange, big, reading('r3')]);

    const batches: string[][] = [];
    const report = await shadow(t, 4, batches);
    expect(batches).toEqual([['0', '1', '2', '3']]);
    expect(report.messages).toBe(4);
    expect(report.candidate.scored).toBe(3);
    expect(report.candidate.failures).toEqual({ rejected: 1 });
    const outputs = await readAll(t.shadow);
    expect(outputs.map((o) => o.key)).toEqual(['r0', 'big', 'r3']);
    expect([0, 1]).toContain(JSON.parse(outputs[1]?.value ?? '{}').prediction);
  });

  it('dead-letters a record nested 20,000 levels deep and scores the rest', async () => {
    const t = await topics('deep');
    // Every feature is there: only its depth makes it a bad record.
    const nesting = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const deep = { key: 'deep', value: `${reading('deep').value.slice(0, -1)},"nested":${nesting}}` };
    await kafka.produce(t.input, [reading('a'), deep, reading('b')]);

    const report = await shadow(t, 3);
    expect(report.deadLettered).toEqual({ total: 1, byReason: { 'nested more than 64 levels deep': 1 } });
    expect(report.candidate.scored).toBe(2);
    const [copy] = await readAll(t.dlq);
    expect(copy).toMatchObject({
      key: 'deep',
      value: deep.value,
      headers: { 'mloop-reason': 'nested more than 64 levels deep', 'mloop-source-offset': '1' },
    });
  });
});
