import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../core/registry/registry';
import type { LifecycleInput, LifecycleResult } from '../../workflows/definitions';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { connectClient, tempDir, testNames } from '../helpers/stack';
import { killGroup, startWorker } from '../helpers/worker-process';

describe('worker crash right after training (real worker process, SIGKILL)', () => {
  let client: Client;
  let closeClient: (() => Promise<void>) | undefined;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    ({ client, close: closeClient } = await connectClient());
  });
  afterAll(async () => {
    for (const w of workers) killGroup(w, 'SIGKILL');
    await closeClient?.();
  });

  it('completes after a restart with exactly one new version registered', async () => {
    const names = testNames('worker-crash');
    const queues = { control: names.control, train: names.train, stream: names.stream };
    const dataDir = await tempDir('worker-crash');
    const repo = await createExampleModelRepo();
    const dataset = await createExampleDataset(3000);

    const first = startWorker(dataDir, queues);
    workers.push(first.proc);
    await first.ready;

    const input: LifecycleInput = {
      model: 'pm-crash',
      repo: { url: repo.url, ref: 'main', path: repo.path },
      dataset: { path: dataset },
      requestedBy: 'tester',
      trainTaskQueue: queues.train,
    };
    const id = `lifecycle/pm-crash/${names.prefix}`;
    const handle = await client.workflow.start('modelLifecycle', {
      workflowId: id,
      taskQueue: queues.control,
      args: [input],
    });

    // Watch the train stage's history and kill the worker the moment training is recorded done.
    const trainHandle = client.workflow.getHandle(`${id}/train`);
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error('training did not finish within 2 minutes');
      const history = await trainHandle.fetchHistory().catch(() => undefined);
      const events = history?.events ?? [];
      const scheduled = events.find(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runTraining',
      );
      const done =
        scheduled &&
        events.some(
          (e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled.eventId),
        );
      if (done) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    killGroup(first.proc, 'SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    const atKill = ((await trainHandle.fetchHistory()).events ?? []).filter(
      (e) => e.activityTaskCompletedEventAttributes,
    ).length;
    console.log(`activities completed in the train stage when the worker was killed: ${atKill}`);

    const registryFile = path.join(dataDir, 'registry.db');
    const second = startWorker(dataDir, queues);
    workers.push(second.proc);
    await second.ready;
    const result = (await handle.result()) as LifecycleResult;
    killGroup(second.proc, 'SIGTERM');

    expect(result.stage).toBe('done');
    // The restarted worker went on from the recorded history: training ran once, not again.
    const trainEvents = (await trainHandle.fetchHistory()).events ?? [];
    const trainingScheduled = trainEvents.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runTraining',
    );
    expect(trainingScheduled).toHaveLength(1);
    const trainingStarted = trainEvents.find(
      (e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(trainingScheduled[0]?.eventId),
    );
    expect(trainingStarted?.activityTaskStartedEventAttributes?.attempt).toBe(1);
    expect(result.version).toBe(1);
    const registry = await Registry.openSqlite(registryFile);
    try {
      const versions = await registry.listVersions('pm-crash');
      expect(versions).toHaveLength(1);
      expect(versions[0]?.artifactDigest).toBe(result.train?.artifactDigest);
      expect(await registry.listRuns('pm-crash')).toHaveLength(1);
    } finally {
      await registry.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});
