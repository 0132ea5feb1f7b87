import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../../core/kafka/adapter';
import { createRng, generateReading } from '../../examples/predictive-maintenance/data/sensors';
import { statusQuery, type LifecycleInput, type LifecycleResult } from '../../workflows/definitions';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { config, connectClient, tempDir, testNames } from '../helpers/stack';
import { until } from '../helpers/until';
import { killGroup, startWorker } from '../helpers/worker-process';
import { processesMentioning } from '../helpers/processes';

describe('shadow test survives a worker crash (real worker process, SIGKILL mid-test)', () => {
  let client: Client;
  let closeClient: (() => Promise<void>) | undefined;
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'mloop-test-shadow-crash' });
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    ({ client, close: closeClient } = await connectClient());
  });
  afterAll(async () => {
    for (const w of workers) killGroup(w, 'SIGKILL');
    await kafka.close();
    await closeClient?.();
  });

  it('counts exactly K scored messages, no gaps and no duplicates, after a SIGKILL and restart', async () => {
    const names = testNames('shadow-crash');
    const queues = { control: names.control, train: names.train, stream: names.stream };
    const dataDir = await tempDir('shadow-crash');
    const repo = await createExampleModelRepo();
    const dataset = await createExampleDataset(2000);
    const model = `pm-crash-${randomUUID().slice(0, 6)}`;
    const topic = `test.crash.${randomUUID()}`;
    const K = 1500;
    await kafka.ensureTopic(topic, 3);

    const first = startWorker(dataDir, queues);
    workers.push(first.proc);
    await first.ready;
    const input: LifecycleInput = {
      model,
      repo: { url: repo.url, ref: 'main', path: repo.path },
      dataset: { path: dataset },
      requestedBy: 'tester',
      trainTaskQueue: queues.train,
      streamTaskQueue: queues.stream,
      shadow: { inputTopic: topic, stopAfter: { messages: K }, thresholds: { minMessages: K } },
    };
    const id = `lifecycle/${model}/${names.prefix}`;
    const handle = await client.workflow.start('modelLifecycle', {
      workflowId: id,
      taskQueue: queues.control,
      args: [input],
    });
    await until(
      'the shadow stage to start',
      async () => ((await handle.query(statusQuery)).shadow ? true : undefined),
      120_000,
    );

    // A steady feed, while the worker is killed partway through.
    const rng = createRng(5);
    const feeding = (async () => {
      for (let i = 0; i < K; i += 50) {
        await kafka.produce(
          topic,
          Array.from({ length: 50 }, (_, j) => ({
            key: `reading-${i + j}`,
            value: JSON.stringify(generateReading(rng)),
          })),
        );
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    const before = await until('some messages to be scored', async () => {
      const n = (await handle.query(statusQuery)).shadow?.messages ?? 0;
      return n >= 200 ? n : undefined;
    });
    killGroup(first.proc, 'SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    expect(before).toBeLessThan(K);

    const second = startWorker(dataDir, queues);
    workers.push(second.proc);
    await second.ready;
    await feeding;
    const result = (await handle.result()) as LifecycleResult;
    killGroup(second.proc, 'SIGTERM');
    await new Promise((r) => second.proc.once('exit', r));

    expect(result.stage, result.error).toBe('done');
    const report = result.shadowTest?.report;
    expect(report?.messages).toBe(K);
    expect(report?.candidate.scored).toBe(K);
    expect(report?.candidate.failed).toBe(0);
    // The run was really interrupted and resumed: a second attempt of the shadow activity.
    const events = (await client.workflow.getHandle(`${id}/shadow`).fetchHistory()).events ?? [];
    const attempts = events.flatMap((e) =>
      e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 1] : [],
    );
    expect(Math.max(...attempts)).toBeGreaterThan(1);
    // Outputs are at least once (a replayed batch may be written twice), and cover every message.
    const offsets = await kafka.partitionOffsets(`${model}.shadow`);
    const keys = new Set<string>();
    await kafka.readRanges(
      `${model}.shadow`,
      offsets.map((o) => ({ partition: o.partition, from: o.low, to: o.high })),
      async (records) => {
        for (const r of records) keys.add(r.key ?? '');
      },
    );
    expect(keys.size).toBe(K);
    // Nothing of the killed worker lives on: its model server stopped when it lost its parent.
    await until(
      'orphaned processes to exit',
      async () => (processesMentioning(dataDir) === '' ? true : undefined),
      20_000,
    );
    await fs.rm(dataDir, { recursive: true, force: true });
  });
});
