import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsumedRecord, KafkaPort, StreamRecord, TopicStart } from '../../../core/kafka/adapter';
import { KServeClient } from '../../../core/serving/kserve-client';
import type { ShadowCheckpoint } from '../../../core/shadow/checkpoint';
import { emptyShadowState } from '../../../core/shadow/metrics';
import { runShadow, type ServedModel } from '../../../core/shadow/runner';
import { portTheRunnerDoesNotUse } from './stream-fake';

/**
 * The shadow runner scores several batches at once. These tests make later batches finish
 * scoring first, fail one batch's produce, and stop or cancel the run with batches in flight:
 * outputs must stay in input order, and every checkpoint must cover exactly the batches whose
 * outputs were produced.
 */

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Records of one partition-0 batch: each answers `answer`, and the model takes `delayMs` for the request. */
type Batch = Array<{ key: string; delayMs: number }>;

interface Produced {
  topic: string;
  keys: Array<string | null>;
}

/** A stream delivering `batches` in order on partition 0 (waiting for each handler, as kafkajs does), then idling. */
function scriptedKafka(batches: Batch[], produced: Produced[], failOn?: string): KafkaPort {
  return {
    ...portTheRunnerDoesNotUse(),
    produce: async (topic: string, records: StreamRecord[]) => {
      if (records.length === 0) return;
      if (failOn !== undefined && records.some((r) => r.key === failOn)) throw new Error(`broker refused ${failOn}`);
      produced.push({ topic, keys: records.map((r) => r.key) });
    },
    async stream(_starts: TopicStart[], onBatch: (records: ConsumedRecord[]) => Promise<void>, signal: AbortSignal) {
      let offset = 0;
      for (const b of batches) {
        if (signal.aborted) return;
        const records = b.map(({ key, delayMs }): ConsumedRecord => ({
          key,
          value: JSON.stringify({ answer: 1, delay: delayMs }),
          topic: 'input',
          partition: 0,
          offset: String(offset++),
          timestamp: '1000',
        }));
        await onBatch(records);
      }
      if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    },
  };
}

const batch = (name: string, delayMs: number): Batch =>
  ['a', 'b', 'c'].map((suffix) => ({ key: `${name}${suffix}`, delayMs }));

describe('shadow runner: batches in flight', () => {
  let server: http.Server;
  let model: ServedModel;
  let concurrent = 0;
  let maxConcurrent = 0;

  beforeAll(async () => {
    // A V2 server that predicts each row's `answer`, after the largest `delay` of the request.
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.method !== 'POST') {
          res.statusCode = 404;
          res.end('{"error": "not found"}');
          return;
        }
        const inputs = (JSON.parse(body) as { inputs: Array<{ name: string; data: number[] }> }).inputs;
        const answers = inputs.find((i) => i.name === 'answer')?.data ?? [];
        const delay = Math.max(0, ...(inputs.find((i) => i.name === 'delay')?.data ?? []));
        concurrent += 1;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        setTimeout(() => {
          concurrent -= 1;
          res.setHeader('content-type', 'application/json');
          const predictions = { name: 'predictions', datatype: 'INT64', shape: [answers.length], data: answers };
          res.end(JSON.stringify({ outputs: [predictions] }));
        }, delay);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const features = [
      { name: 'answer', type: 'integer' as const },
      { name: 'delay', type: 'integer' as const },
    ];
    model = { client: new KServeClient(`http://127.0.0.1:${port}`, 'm'), features, version: 1 };
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const run = (
    kafka: KafkaPort,
    checkpoints: ShadowCheckpoint[],
    opts: { messages?: number; deadlineMs?: number; signal?: AbortSignal; stopRequested?: () => Promise<boolean> } = {},
  ) => {
    const offsets = { '0': '0' };
    const state = { ...emptyShadowState('classification', { positiveLabel: 1 }), offsets };
    return runShadow({
      kafka,
      model: 'm',
      candidate: model,
      champion: null,
      inputTopic: 'input',
      labelField: 'failure',
      shadowTopic: 'm.shadow',
      deadLetterTopic: 'm.shadow.dlq',
      checkpoint: { offsets, labelOffsets: {}, state },
      maxMessages: opts.messages ?? 1000,
      deadlineMs: opts.deadlineMs ?? null,
      elapsedBeforeMs: 0,
      onCheckpoint: (c) => checkpoints.push(c),
      signal: opts.signal ?? new AbortController().signal,
      ...(opts.stopRequested ? { stopRequested: opts.stopRequested } : {}),
    });
  };
  const shadowKeys = (produced: Produced[]): Array<string | null> =>
    produced.filter((p) => p.topic === 'm.shadow').flatMap((p) => p.keys);

  it('stops when a stop was asked for, found by asking (no progress report needed)', async () => {
    const produced: Produced[] = [];
    const checkpoints: ShadowCheckpoint[] = [];
    let asked = 0;
    const report = await run(scriptedKafka([batch('s', 0), batch('t', 0)], produced), checkpoints, {
      stopRequested: async () => ++asked >= 2,
    });
    expect(asked).toBe(2);
    expect(report.messages).toBe(6);
    expect(shadowKeys(produced)).toEqual(['sa', 'sb', 'sc', 'ta', 'tb', 'tc']);
  });

  it('scores batches at once yet produces and counts them in input order when later ones finish first', async () => {
    maxConcurrent = 0;
    const produced: Produced[] = [];
    const checkpoints: ShadowCheckpoint[] = [];
    const batches = [batch('x', 400), batch('y', 0), batch('z', 150)];
    const report = await run(scriptedKafka(batches, produced), checkpoints, {
      messages: 9,
      deadlineMs: Date.now() + 3000,
    });

    expect(maxConcurrent).toBeGreaterThanOrEqual(2);
    expect(shadowKeys(produced)).toEqual(batches.flat().map((r) => r.key));
    expect(report.messages).toBe(9);
    expect(report.candidate.scored).toBe(9);
    expect(checkpoints.at(-1)?.offsets).toEqual({ '0': '9' });
    expect(checkpoints.at(-1)?.state.messages).toBe(9);
  });

  it('commits nothing after a batch whose outputs fail, and no checkpoint covers it', async () => {
    const produced: Produced[] = [];
    const checkpoints: ShadowCheckpoint[] = [];
    // The first batch is committed at once; the second is slow and then refused; the third is
    // scored long before the second fails, and must wait for it rather than be committed.
    const batches = [batch('x', 0), batch('y', 1300), batch('z', 0)];
    await expect(run(scriptedKafka(batches, produced, 'ya'), checkpoints)).rejects.toThrow('broker refused ya');

    expect(shadowKeys(produced)).toEqual(['xa', 'xb', 'xc']);
    // The once-a-second checkpoint came while the second batch was being scored.
    expect(checkpoints.length).toBeGreaterThan(0);
    for (const c of checkpoints) {
      expect(c.offsets).toEqual({ '0': '3' });
      expect(c.state.messages).toBe(3);
    }
    await sleep(300);
    expect(shadowKeys(produced)).toEqual(['xa', 'xb', 'xc']);
  });

  it('finishes the batches in flight when stopped, and its last checkpoint covers exactly those produced', async () => {
    const produced: Produced[] = [];
    const checkpoints: ShadowCheckpoint[] = [];
    const batches = [batch('x', 700), batch('y', 700), batch('z', 700), batch('w', 0)];
    // The deadline passes while the first three batches are being scored.
    const report = await run(scriptedKafka(batches, produced), checkpoints, { deadlineMs: Date.now() + 200 });
    const keysAtReturn = shadowKeys(produced);

    expect(keysAtReturn).toEqual(
      batches
        .slice(0, 3)
        .flat()
        .map((r) => r.key),
    );
    expect(report.messages).toBe(9);
    expect(checkpoints.at(-1)?.offsets).toEqual({ '0': '9' });
    expect(checkpoints.at(-1)?.state.messages).toBe(9);
    // Nothing is produced after the run has returned.
    await sleep(900);
    expect(shadowKeys(produced)).toEqual(keysAtReturn);
  });

  it('produces nothing in flight once cancelled, and its checkpoints stop at what was produced', async () => {
    const produced: Produced[] = [];
    const checkpoints: ShadowCheckpoint[] = [];
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(), 300);
    const batches = [batch('x', 0), batch('y', 1500), batch('z', 0)];
    await expect(run(scriptedKafka(batches, produced), checkpoints, { signal: cancel.signal })).rejects.toThrow(
      'shadow test cancelled',
    );

    expect(shadowKeys(produced)).toEqual(['xa', 'xb', 'xc']);
    for (const c of checkpoints) expect(c.offsets).toEqual({ '0': '3' });
    await sleep(1500);
    expect(shadowKeys(produced)).toEqual(['xa', 'xb', 'xc']);
  });
});
