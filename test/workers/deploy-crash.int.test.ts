import { execFile, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeployModelResult, LifecycleInput, LifecycleResult } from '../../workflows/definitions';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { processesMentioning } from '../helpers/processes';
import { startTestProxy, type TestProxy } from '../helpers/proxy';
import { connectClient, testNames } from '../helpers/stack';
import { killGroup, startWorker } from '../helpers/worker-process';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

/**
 * A worker SIGKILLed while it starts a release: the model server it spawned lives on (deployment
 * servers outlive workers), and the restarted worker adopts it by its deterministic name instead
 * of starting a second one.
 */
describe('worker crash during a deploy (real worker process, SIGKILL, HAProxy)', () => {
  let client: Client;
  let closeClient: (() => Promise<void>) | undefined;
  let proxy: TestProxy;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    ({ client, close: closeClient } = await connectClient());
    proxy = await startTestProxy('deploy-crash');
  });
  afterAll(async () => {
    for (const w of workers) killGroup(w, 'SIGKILL');
    // The deployment's servers outlive workers on purpose: stop them as `mloop dev down` does.
    const stop = 'source scripts/lib/common.sh && source scripts/lib/deployments.sh && deployment_processes_stop';
    await run('bash', ['-c', stop], { cwd: root, env: { ...process.env, MLOOP_DATA: proxy.dataDir } }).catch(
      () => undefined,
    );
    await proxy?.destroy();
    await closeClient?.();
  });

  it('completes after a restart with exactly one model server for the release', async () => {
    const names = testNames('deploy-crash');
    const queues = { control: names.control, train: names.train, stream: names.stream };
    const dataDir = proxy.dataDir;
    const env = { MLOOP_PROXY_PORT: String(proxy.port) };
    const model = 'pm-deploy-crash';
    const repo = await createExampleModelRepo();

    const first = startWorker(dataDir, queues, env);
    workers.push(first.proc);
    await first.ready;
    const train: LifecycleInput = {
      model,
      repo: { url: repo.url, ref: 'main', path: repo.path },
      dataset: { path: await createExampleDataset(1500) },
      requestedBy: 'tester',
      trainTaskQueue: queues.train,
    };
    const trained = (await (
      await client.workflow.start('modelLifecycle', {
        workflowId: `lifecycle/${model}/${names.prefix}`,
        taskQueue: queues.control,
        args: [train],
      })
    ).result()) as LifecycleResult;
    const v = trained.train!;

    const deployId = `deploy/${model}/staging/${names.prefix}`;
    const handle = await client.workflow.start('deployModel', {
      workflowId: deployId,
      taskQueue: queues.control,
      args: [
        {
          model,
          version: {
            version: v.version,
            commitSha: v.commitSha,
            repoUrl: repo.url,
            repoPath: repo.path,
            artifactDigest: v.artifactDigest,
          },
          environment: 'staging',
          requestedBy: 'tester',
        },
      ],
    });
    // Kill the worker once the release's server process exists, before its activity completes.
    const marker = `.${model}.staging.v${v.version}.r0/run/server.pid`;
    const deadline = Date.now() + 120_000;
    while (!processesMentioning(marker)) {
      if (Date.now() > deadline) throw new Error('the release never started a model server');
      await new Promise((r) => setTimeout(r, 50));
    }
    killGroup(first.proc, 'SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    const history = (await handle.fetchHistory()).events ?? [];
    const scheduled = history.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'startRelease',
    );
    const completedAtKill = history.some(
      (e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled?.eventId),
    );
    // The kill came in the middle of starting the release: the server was up, its activity not done.
    expect(scheduled).toBeDefined();
    expect(completedAtKill).toBe(false);

    const second = startWorker(dataDir, queues, env);
    workers.push(second.proc);
    await second.ready;
    const result = (await handle.result()) as DeployModelResult;
    expect(result.outcome).toBe('staged');
    const servers = processesMentioning(marker)
      .split('\n')
      .filter((l) => l.includes('mloop_runtime'));
    expect(servers, servers.join('\n')).toHaveLength(1);
    const answer = (await (
      await fetch(`${result.endpoints.staging}/v2/models/${model}`, { signal: AbortSignal.timeout(10_000) })
    ).json()) as { versions?: string[] };
    expect(answer.versions).toEqual([String(v.version)]);
    const attempts = ((await handle.fetchHistory()).events ?? [])
      .filter((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled?.eventId))
      .map((e) => e.activityTaskStartedEventAttributes?.attempt);
    console.log(
      `startRelease attempts: ${attempts.join(', ')}; ` +
        `model servers for the release after the restart: ${servers.length}`,
    );
    killGroup(second.proc, 'SIGTERM');
  }, 400_000);
});
