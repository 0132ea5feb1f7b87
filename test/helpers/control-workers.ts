import { NativeConnection } from '@temporalio/worker';
import type { MloopConfig } from '../../core/config';
import { createWorkers } from '../../workers/create-workers';
import { createWorkerDeps } from '../../workers/deps';
import { config } from './stack';

/**
 * The control role's workers (workflows and short activities) in this test's process, over deps
 * of their own; the long-running roles then run only in worker processes the test can kill.
 */
export async function startControlWorkers(
  overrides: Partial<MloopConfig>,
  queues: { control: string; train: string; stream: string },
): Promise<{ stop(): Promise<void> }> {
  const deps = await createWorkerDeps({ ...config, ...overrides });
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const workers = await createWorkers({
    connection,
    namespace: config.temporalNamespace,
    deps,
    roles: ['control'],
    queueNames: queues,
  });
  const running = workers.map((w) => w.run());
  return {
    async stop() {
      for (const w of workers) w.shutdown();
      await Promise.all(running);
      await connection.close();
      await deps.close();
    },
  };
}
