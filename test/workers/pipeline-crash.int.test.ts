import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../core/deploy/ports';
import { createKafkaAdapter } from '../../core/kafka/adapter';
import { createKafka, readPartitionToEnd } from '../../core/kafka/transactions';
import { ensureTopics } from '../../core/kafka/topics';
import type { Guarantee, PipelineSpec } from '../../core/pipeline/spec';
import {
  pipelineStatusQuery,
  pipelineWorkflowId,
  stopPipelineUpdate,
  type PipelineInput,
} from '../../workflows/definitions';
import { startControlWorkers } from '../helpers/control-workers';
import { connectClient, tempDir, testNames } from '../helpers/stack';
import { until } from '../helpers/until';
import { killGroup, startWorker } from '../helpers/worker-process';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

/** A Kafka broker of this test's own (never the shared one), started and stopped by the service manager's script. */
async function privateKafka(
  name: string,
): Promise<{ brokers: string[]; start(): Promise<void>; stop(): Promise<void> }> {
  const dataDir = await tempDir(`kafka-${name}`);
  const env = {
    ...process.env,
    MLOOP_DATA: dataDir,
    KAFKA_PORT: String(await freePort()),
    KAFKA_CONTROLLER_PORT: String(await freePort()),
  };
  const sh = async (fn: string): Promise<void> => {
    await run('bash', ['-c', `source scripts/lib/common.sh && source scripts/lib/kafka.sh && ${fn}`], {
      cwd: root,
      env,
    });
  };
  return {
    brokers: [`127.0.0.1:${env.KAFKA_PORT}`],
    start: () => sh('kafka_start'),
    stop: () => sh('kafka_stop'),
  };
}

async function readAll(brokers: string[], topic: string, partitions: number): Promise<string[]> {
  const kafka = createKafka(brokers, 'mloop-test-read');
  const out: string[] = [];
  for (let p = 0; p < partitions; p++) out.push(...(await readPartitionToEnd(kafka, topic, p)).map((r) => r.value));
  return out;
}

/**
 * Acceptance 2: a window pipeline keeps running while its worker is SIGKILLed and the broker is
 * restarted. Exactly once: every window once, with exactly the counts of the input. At least
 * once: no window lost, each with the input's counts; repeats are counted and reported.
 */
describe('pipeline through a worker SIGKILL and a broker restart (private Kafka, worker processes)', () => {
  const procs: ChildProcess[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const p of procs) killGroup(p, 'SIGKILL');
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }, 120_000);

  it.each<[Guarantee]>([['exactly-once'], ['at-least-once']])(
    '%s: windows hold exactly the input after the crash and the restart',
    async (guarantee) => {
      const names = testNames(`pipeline-crash-${guarantee}`);
      const p = names.prefix;
      const queues = { control: names.control, train: names.train, stream: names.stream };
      const kafkaServer = await privateKafka(p);
      await kafkaServer.start();
      cleanups.push(() => kafkaServer.stop());
      const { brokers } = kafkaServer;
      const dataDir = await tempDir(p);
      cleanups.push(() => fs.rm(dataDir, { recursive: true, force: true }));

      const control = await startControlWorkers({ dataDir, kafkaBrokers: brokers }, queues);
      cleanups.push(() => control.stop());
      const { client, close } = await connectClient();
      cleanups.push(close);
      const env = { MLOOP_WORKER_ROLES: 'stream', KAFKA_BROKERS: brokers.join(',') };
      const first = startWorker(dataDir, queues, env);
      procs.push(first.proc);
      await first.ready;

      const spec: PipelineSpec = {
        name: p,
        guarantee,
        topics: [
          { name: `${p}.in`, partitions: 3, external: true, fields: { id: 'integer', k: 'string', ts: 'integer' } },
          { name: `${p}.windows`, partitions: 3 },
        ],
        transforms: [
          {
            name: 'per-second',
            kind: 'window',
            input: `${p}.in`,
            output: `${p}.windows`,
            key: 'k',
            time: 'ts',
            window: { type: 'tumbling', size: '1s' },
            aggregates: { n: { op: 'count' }, ids: { op: 'sum', field: 'id' } },
          },
        ],
      };
      await ensureTopics(brokers, [{ name: `${p}.in`, partitions: 3 }]);
      const input: PipelineInput = {
        spec,
        requestedBy: 'tester',
        streamTaskQueue: queues.stream,
        reportIntervalMs: 300,
      };
      const handle = await client.workflow.start('pipeline', {
        workflowId: pipelineWorkflowId(p),
        taskQueue: queues.control,
        args: [input],
      });
      cleanups.push(async () => {
        await handle.terminate().catch(() => undefined);
      });

      const producer = createKafkaAdapter({ brokers, clientId: 'mloop-test-crash-feed' });
      const keys = 9;
      const N = 4500;
      const t0 = Date.parse('2026-01-01T00:00:00Z');
      // 20 ms of event time apart: 50 records per second of event time, spread over the keys.
      const record = (id: number) => ({
        key: `k${id % keys}`,
        value: JSON.stringify({ id, k: `k${id % keys}`, ts: t0 + id * 20 }),
      });
      const feed = async (from: number, to: number): Promise<void> => {
        for (let i = from; i < to; i += 150) {
          const batch = [];
          for (let id = i; id < Math.min(to, i + 150); id++) batch.push(record(id));
          await producer.produce(`${p}.in`, batch);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      const consumed = async (): Promise<number> =>
        (await handle.query(pipelineStatusQuery)).transforms.reduce((n, u) => n + (u.counts.consumed ?? 0), 0);

      await feed(0, 1500);
      await until('processing under way', async () => ((await consumed()) > 300 ? true : undefined), 120_000, 200);
      // Mid-stream: the worker dies, then the broker restarts while nothing runs.
      killGroup(first.proc, 'SIGKILL');
      await feed(1500, 2500);
      await producer.close();
      await kafkaServer.stop();
      await kafkaServer.start();
      const producer2 = createKafkaAdapter({ brokers, clientId: 'mloop-test-crash-feed-2' });
      const second = startWorker(dataDir, queues, env);
      procs.push(second.proc);
      await second.ready;
      for (let i = 2500; i < N; i += 150) {
        const batch = [];
        for (let id = i; id < Math.min(N, i + 150); id++) batch.push(record(id));
        await producer2.produce(`${p}.in`, batch);
      }
      // One record per key an hour later closes every window of the input.
      await producer2.produce(
        `${p}.in`,
        Array.from({ length: keys }, (_, j) => ({
          key: `k${j}`,
          value: JSON.stringify({ id: 1_000_000 + j, k: `k${j}`, ts: t0 + 3_600_000 }),
        })),
      );
      await producer2.close();

      const expected = new Map<string, { n: number; ids: number }>();
      for (let id = 0; id < N; id++) {
        const key = `k${id % keys}|${new Date(Math.floor((t0 + id * 20) / 1000) * 1000).toISOString()}`;
        const w = expected.get(key) ?? { n: 0, ids: 0 };
        expected.set(key, { n: w.n + 1, ids: w.ids + id });
      }
      const windows = await until(
        'every window out',
        async () => {
          const out = (await readAll(brokers, `${p}.windows`, 3)).map(
            (v) => JSON.parse(v) as { k: string; window_start: string; n: number; ids: number },
          );
          return new Set(out.map((w) => `${w.k}|${w.window_start}`)).size >= expected.size ? out : undefined;
        },
        240_000,
        1000,
      );
      const seen = new Map<string, number>();
      for (const w of windows) {
        const key = `${w.k}|${w.window_start}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        expect(expected.get(key), key).toEqual({ n: w.n, ids: w.ids });
      }
      expect([...seen.keys()].sort()).toEqual([...expected.keys()].sort());
      const repeats = windows.length - expected.size;
      console.log(`${guarantee}: ${expected.size} windows of ${N} records, ${repeats} repeated outputs`);
      if (guarantee === 'exactly-once') expect(repeats).toBe(0);
      const status = await handle.query(pipelineStatusQuery);
      expect(status.transforms[0]?.restarts).toBeGreaterThanOrEqual(1);

      await handle.executeUpdate(stopPipelineUpdate, { args: [{ by: 'tester' }] });
      await handle.result();
      killGroup(second.proc, 'SIGTERM');
    },
    600_000,
  );
});
