import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { loadConfig } from '../../core/config';
import { createWorkers } from '../../workers/create-workers';
import { createWorkerDeps, type WorkerDeps } from '../../workers/deps';

/** The stack started by `mloop dev up` (scripts/test.sh) or named by the environment. */
export const config = loadConfig();

/** Names unique to one test: task queues, topics, workflow keys. */
export function testNames(testName: string): { prefix: string; control: string; train: string; stream: string } {
  const prefix = `${testName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 40)}-${randomUUID().slice(0, 8)}`;
  return { prefix, control: `${prefix}-control`, train: `${prefix}-train`, stream: `${prefix}-stream` };
}

/** A Temporal client on the test stack's server. */
export async function connectClient(): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: config.temporalAddress });
  return { client: new Client({ connection, namespace: config.temporalNamespace }), close: () => connection.close() };
}

export async function tempDir(name: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `mloop-${name}-`));
}

export interface TestStack {
  client: Client;
  deps: WorkerDeps;
  dataDir: string;
  queues: { control: string; train: string; stream: string };
  stop(): Promise<void>;
}

/**
 * Real workers against the real Temporal dev server, on task queues of this test's own, with a
 * registry and artifact store in a temporary data directory.
 */
export async function startTestStack(testName: string, overrides: Partial<WorkerDeps> = {}): Promise<TestStack> {
  const names = testNames(testName);
  const dataDir = await tempDir(names.prefix);
  const deps = { ...(await createWorkerDeps({ ...config, dataDir })), ...overrides };
  const nativeConnection = await NativeConnection.connect({ address: config.temporalAddress });
  const workers = await createWorkers({
    connection: nativeConnection,
    namespace: config.temporalNamespace,
    deps,
    queueNames: { control: names.control, train: names.train, stream: names.stream },
  });
  const running = workers.map((w: Worker) => w.run());
  const { client, close } = await connectClient();
  return {
    client,
    deps,
    dataDir,
    queues: { control: names.control, train: names.train, stream: names.stream },
    async stop() {
      await removeDriftSchedules(client, names.control);
      for (const w of workers) w.shutdown();
      await Promise.all(running);
      await close();
      await nativeConnection.close();
      await deps.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Promotions in tests create drift schedules on the shared server; those that send work to this
 * stack's queue go with it (best effort: the listing is eventually consistent).
 */
async function removeDriftSchedules(client: Client, taskQueue: string): Promise<void> {
  try {
    for await (const s of client.schedule.list({ query: 'ScheduleId STARTS_WITH "drift/"' })) {
      const handle = client.schedule.getHandle(s.scheduleId);
      const d = await handle.describe().catch(() => undefined);
      const ours = d?.action.type === 'startWorkflow' && d.action.taskQueue === taskQueue;
      if (ours) await handle.delete().catch(() => undefined);
    }
  } catch {
    // A server without schedule listing leaves them to expire with their checks' timeouts.
  }
}
