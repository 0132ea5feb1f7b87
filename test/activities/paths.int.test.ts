import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkers } from '../../workers/create-workers';
import { createWorkerDeps, type WorkerDeps } from '../../workers/deps';
import type { LifecycleInput } from '../../workflows/definitions';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { config, connectClient, tempDir, testNames } from '../helpers/stack';

/** The innermost failure of a workflow that failed, as `<type>: <message>`. */
async function innermostFailure(client: Client, id: string): Promise<string> {
  let err = await client.workflow
    .getHandle(id)
    .result()
    .then(
      () => undefined,
      (e: unknown) => e as Error & { cause?: unknown; type?: string },
    );
  while (err?.cause) err = err.cause as typeof err;
  return err ? `${err.type ?? err.name}: ${err.message}` : 'completed';
}

/**
 * A lifecycle started straight through Temporal never meets the API's checks, so the activities
 * repeat them. The worker here may read only the model repository's and the dataset's folders.
 */
describe('activities re-check what a workflow may touch (real worker, workflows started through Temporal)', () => {
  const names = testNames('activity-paths');
  let client: Client;
  let closeClient: () => Promise<void>;
  let deps: WorkerDeps;
  let nativeConnection: NativeConnection;
  let running: Promise<void>[];
  let workers: Worker[];
  let repo: { url: string; path: string; sha: string };
  let dataset: string;

  beforeAll(async () => {
    repo = await createExampleModelRepo();
    dataset = await createExampleDataset(300);
    const dataDir = await tempDir(names.prefix);
    deps = await createWorkerDeps({ ...config, dataDir, allowedRoots: [repo.url, path.dirname(dataset)] });
    nativeConnection = await NativeConnection.connect({ address: config.temporalAddress });
    workers = await createWorkers({
      connection: nativeConnection,
      namespace: config.temporalNamespace,
      deps,
      queueNames: { control: names.control, train: names.train, stream: names.stream },
    });
    running = workers.map((w) => w.run());
    ({ client, close: closeClient } = await connectClient());
  });
  afterAll(async () => {
    for (const w of workers ?? []) w.shutdown();
    await Promise.all(running ?? []);
    await closeClient?.();
    await nativeConnection?.close();
    await deps?.close();
  });

  const start = async (key: string, change: Partial<LifecycleInput>): Promise<string> => {
    const input: LifecycleInput = {
      model: 'pm-paths',
      repo: { url: repo.url, ref: 'main', path: repo.path },
      dataset: { path: dataset },
      requestedBy: 'tester',
      trainTaskQueue: names.train,
      ...change,
    };
    const id = `lifecycle/pm-paths/${names.prefix}-${key}`;
    await client.workflow.start('modelLifecycle', { workflowId: id, taskQueue: names.control, args: [input] });
    return id;
  };

  it('refuses a repo.path that climbs out of the checkout, without running the code it points at', async () => {
    // Where `<checkout>/../../../evil` lands: next to the worker's scratch folders.
    const evil = path.join(path.dirname(deps.workDir), 'evil');
    const marker = path.join(evil, 'ran');
    await fs.mkdir(evil, { recursive: true });
    await fs.cp(path.join(repo.url, repo.path), evil, { recursive: true });
    await fs.writeFile(path.join(evil, 'train.py'), `open(${JSON.stringify(marker)}, "w").write("ran")\n`);

    const id = await start('climb', { repo: { url: repo.url, ref: 'main', path: '../../../evil' } });
    expect(await innermostFailure(client, id)).toMatch(/^InvalidInput: .*repo\.path: must not leave the repository/);
    await expect(fs.stat(marker)).rejects.toThrow();
    await fs.rm(evil, { recursive: true, force: true });
  });

  it('refuses a dataset outside the allowed roots', async () => {
    const elsewhere = await createExampleDataset(50);
    const id = await start('dataset', { dataset: { path: elsewhere } });
    expect(await innermostFailure(client, id)).toMatch(/^InvalidInput: .*dataset\.path: .* is outside the folders/);
  });

  it('refuses a local repository outside the allowed roots', async () => {
    const other = await createExampleModelRepo();
    const id = await start('repo', { repo: { url: other.url, ref: 'main', path: other.path } });
    expect(await innermostFailure(client, id)).toMatch(/^InvalidInput: .*repo\.url: .* is outside the folders/);
  });
});
