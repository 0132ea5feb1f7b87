import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsumedRecord, KafkaPort, StreamRecord, TopicStart } from '../../../core/kafka/adapter';
import { KServeClient } from '../../../core/serving/kserve-client';
import { emptyShadowState } from '../../../core/shadow/metrics';
import { runShadow, type ServedModel } from '../../../core/shadow/runner';
import { portTheRunnerDoesNotUse } from './stream-fake';

/**
 * The shadow runner between the stream and the metrics, with the stream's batches in a fixed
 * order (which a real broker does not promise): partitions that lag, and label records of
 * every kind. The models are a real KServe client against a small V2 server that predicts the
 * record's own `answer` field.
 */

const HOUR = 3_600_000;

interface Batch {
  topic: 'input' | 'labels';
  partition: number;
  records: Array<{ key: string | null; value: string; timestampMs: number }>;
}

/** A stream that delivers `batches` in order, then waits for the runner to stop it. */
function scriptedKafka(batches: Batch[]): KafkaPort {
  const next = new Map<string, number>();
  return {
    ...portTheRunnerDoesNotUse(),
    produce: async (_topic: string, _records: StreamRecord[]) => {},
    async stream(_starts: TopicStart[], onBatch: (records: ConsumedRecord[]) => Promise<void>, signal: AbortSignal) {
      for (const b of batches) {
        if (signal.aborted) return;
        const records = b.records.map((r): ConsumedRecord => {
          const at = next.get(`${b.topic}/${b.partition}`) ?? 0;
          next.set(`${b.topic}/${b.partition}`, at + 1);
          return { ...r, topic: b.topic, partition: b.partition, offset: String(at), timestamp: String(r.timestampMs) };
        });
        await onBatch(records);
      }
      if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    },
  };
}

describe('shadow runner: labels and partitions', () => {
  let server: http.Server;
  let model: ServedModel;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        // Only inference is served; the client's `GET /v2` extension probe gets a 404 and JSON.
        if (req.method !== 'POST' || !req.url?.endsWith('/infer')) {
          res.statusCode = 404;
          res.end(JSON.stringify({ error: `no route ${req.method} ${req.url}` }));
          return;
        }
        const inputs = (JSON.parse(body) as { inputs: Array<{ name: string; data: number[] }> }).inputs;
        const answers = inputs.find((i) => i.name === 'answer')?.data ?? [];
        res.setHeader('content-type', 'application/json');
        const predictions = { name: 'predictions', datatype: 'INT64', shape: [answers.length], data: answers };
        res.end(JSON.stringify({ outputs: [predictions] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = new KServeClient(`http://127.0.0.1:${port}`, 'm');
    model = { client, features: [{ name: 'answer', type: 'integer' }], version: 1 };
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const run = (batches: Batch[], messages: number, partitions: { input: number; labels: number }) => {
    const zeros = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, p) => [String(p), '0']));
    const offsets = zeros(partitions.input);
    const labelOffsets = zeros(partitions.labels);
    const empty = emptyShadowState('classification', { labelWindowMs: HOUR, positiveLabel: 1 });
    const state = { ...empty, offsets, labelOffsets };
    return runShadow({
      kafka: scriptedKafka(batches),
      model: 'm',
      candidate: model,
      champion: null,
      inputTopic: 'input',
      labelsTopic: 'labels',
      labelField: 'failure',
      shadowTopic: 'm.shadow',
      deadLetterTopic: 'm.shadow.dlq',
      checkpoint: { offsets, labelOffsets, state },
      maxMessages: messages,
      deadlineMs: null,
      elapsedBeforeMs: 0,
      onCheckpoint: () => {},
      signal: new AbortController().signal,
    });
  };
  const input = (partition: number, key: string, timestampMs: number, answer = 1): Batch => ({
    topic: 'input',
    partition,
    records: [{ key, value: JSON.stringify({ answer }), timestampMs }],
  });

  it('joins boolean labels and counts every other unusable label record as invalid, by reason', async () => {
    const labels: Batch = {
      topic: 'labels',
      partition: 0,
      records: [
        { key: 'a', value: '{"failure": true}', timestampMs: 1 },
        { key: 'b', value: '{"failure": false}', timestampMs: 1 },
        { key: null, value: '{"failure": 1}', timestampMs: 1 },
        { key: 'c', value: '{not json', timestampMs: 1 },
        { key: 'd', value: '[1]', timestampMs: 1 },
        { key: 'e', value: '{"other": 1}', timestampMs: 1 },
        { key: 'f', value: '{"failure": null}', timestampMs: 1 },
        { key: 'g', value: '{"failure": {"yes": 1}}', timestampMs: 1 },
      ],
    };
    const r = await run([labels, input(0, 'a', 0, 1), input(0, 'b', 0, 1)], 2, { input: 1, labels: 1 });
    expect(r.labels.joined).toBe(2);
    expect(r.candidate.confusion).toEqual({ truePositives: 1, falsePositives: 1, trueNegatives: 0, falseNegatives: 0 });
    expect(r.labels.invalid).toBe(6);
    expect(r.labels.invalidByReason).toEqual({
      'no key': 1,
      'not a JSON object': 2,
      'missing field "failure"': 1,
      'not a class': 2,
    });
    // Every label record is accounted for: joined, invalid, or still waiting for its prediction.
    expect(r.labels.joined + r.labels.invalid + r.labels.waiting + r.labels.unmatched).toBe(labels.records.length);
  });

  it('keeps what a lagging partition may still join, and expires only what every partition has passed', async () => {
    const r = await run(
      [
        { topic: 'labels', partition: 0, records: [{ key: 'd', value: '{"failure": 1}', timestampMs: 0 }] },
        input(0, 'a', 0),
        // Partition 1 runs two hours ahead of partition 0, which still has messages of minute 5.
        input(1, 'b', 2 * HOUR),
        { topic: 'labels', partition: 0, records: [{ key: 'a', value: '{"failure": 1}', timestampMs: 10 * 60_000 }] },
        input(0, 'd', 5 * 60_000),
      ],
      3,
      { input: 2, labels: 1 },
    );
    expect(r.labels).toMatchObject({ joined: 2, unmatched: 0, predictionsExpired: 0 });
    // b waits for its label: the label topic has not passed 2 h + the window.
    expect(r.labels.predictionsWaiting).toBe(1);
  });
});
