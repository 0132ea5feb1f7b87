import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../../core/kafka/adapter';
import { ensureTopics } from '../../core/kafka/topics';
import type { PipelineSpec } from '../../core/pipeline/spec';
import {
  pipelineStatusQuery,
  pipelineWorkflowId,
  stopPipelineUpdate,
  type PipelineInput,
  type UnitStatus,
} from '../../workflows/definitions';
import { deleteTopicsStartingWith } from '../api/pipelines-fixture';
import { readTopic } from '../core/pipeline/streams';
import { startControlWorkers } from '../helpers/control-workers';
import { config, connectClient, tempDir, testNames } from '../helpers/stack';
import { until } from '../helpers/until';
import { killGroup, startWorker } from '../helpers/worker-process';

/**
 * Two replicas of a transform, each in a worker process of its own (one stream slot each), share
 * the input's partitions; one process is SIGKILLed mid-stream and the other takes all the
 * partitions over. Exactly once: the output holds every input record once.
 */
describe('pipeline replicas share partitions and take over from a killed one (worker processes, SIGKILL)', () => {
  const procs: ChildProcess[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const p of procs) killGroup(p, 'SIGKILL');
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }, 60_000);

  it('the surviving replica takes the killed one partitions over with nothing lost or repeated', async () => {
    const names = testNames('pipeline-replicas');
    const p = names.prefix;
    const queues = { control: names.control, train: names.train, stream: names.stream };
    const dataDir = await tempDir('pipeline-replicas');
    cleanups.push(() => fs.rm(dataDir, { recursive: true, force: true }));
    cleanups.push(() => deleteTopicsStartingWith(p));

    // The workflow and the short activities in this process; the replicas only in the children.
    const control = await startControlWorkers({ dataDir }, queues);
    cleanups.push(() => control.stop());
    const { client, close } = await connectClient();
    cleanups.push(close);
    const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'mloop-test-replicas' });
    cleanups.push(() => kafka.close());

    const stream = (): ReturnType<typeof startWorker> => {
      const w = startWorker(dataDir, queues, { MLOOP_WORKER_ROLES: 'stream', MLOOP_STREAM_CONCURRENCY: '1' });
      procs.push(w.proc);
      return w;
    };
    const a = stream();
    const b = stream();
    await Promise.all([a.ready, b.ready]);

    const spec: PipelineSpec = {
      name: p,
      guarantee: 'exactly-once',
      topics: [
        { name: `${p}.in`, partitions: 4, external: true, fields: { id: 'integer', k: 'string' } },
        { name: `${p}.out`, partitions: 4 },
      ],
      transforms: [
        { name: 'double', kind: 'map', input: `${p}.in`, output: `${p}.out`, set: { twice: 'id * 2' }, replicas: 2 },
      ],
    };
    await ensureTopics(config.kafkaBrokers, [{ name: `${p}.in`, partitions: 4 }]);
    const input: PipelineInput = { spec, requestedBy: 'tester', streamTaskQueue: queues.stream, reportIntervalMs: 300 };
    const handle = await client.workflow.start('pipeline', {
      workflowId: pipelineWorkflowId(p),
      taskQueue: queues.control,
      args: [input],
    });
    cleanups.push(async () => {
      await handle.terminate().catch(() => undefined);
    });
    const replicas = async (): Promise<UnitStatus[]> => (await handle.query(pipelineStatusQuery)).transforms;
    const owned = (u: UnitStatus | undefined): number[] => (u?.partitions ?? []).map((x) => x.partition).sort();

    const total = 6000;
    const send = async (from: number, to: number): Promise<void> => {
      const records = [];
      for (let id = from; id < to; id++)
        records.push({ key: `k${id % 40}`, value: JSON.stringify({ id, k: `k${id % 40}` }) });
      await kafka.produce(`${p}.in`, records);
    };
    await send(0, 1000);
    // Both replicas run, in different processes, with two partitions each.
    const shared = await until(
      'both replicas sharing the partitions',
      async () => {
        const r = await replicas();
        return r.every((u) => u.state === 'running' && owned(u).length === 2) ? r : undefined;
      },
      120_000,
      300,
    );
    expect(shared.flatMap(owned).sort()).toEqual([0, 1, 2, 3]);

    // A steady feed while one worker process is killed.
    let fed = 1000;
    const feeding = (async () => {
      while (fed < total) {
        await send(fed, fed + 250);
        fed += 250;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await until('some of the feed processed', async () => {
      const r = await replicas();
      return r.reduce((n, u) => n + (u.counts.consumed ?? 0), 0) > 2000 ? true : undefined;
    });
    killGroup(a.proc, 'SIGKILL');
    await feeding;

    const survivor = await until(
      'one replica owning every partition',
      async () => (await replicas()).find((u) => owned(u).length === 4),
      120_000,
      300,
    );
    expect(owned(survivor)).toEqual([0, 1, 2, 3]);
    await until(
      'every record through',
      async () => ((await readTopic(`${p}.out`)).length >= total ? true : undefined),
      120_000,
      1000,
    );
    const out = (await readTopic(`${p}.out`)).map((r) => JSON.parse(r.value) as { id: number; twice: number });
    expect(out).toHaveLength(total);
    expect(new Set(out.map((o) => o.id)).size).toBe(total);
    for (const o of out) expect(o.twice).toBe(o.id * 2);

    const final = await handle.executeUpdate(stopPipelineUpdate, { args: [{ by: 'tester' }] });
    expect(final.state).toBe('stopped');
    expect(await handle.result()).toMatchObject({ state: 'stopped' });
  }, 400_000);
});
