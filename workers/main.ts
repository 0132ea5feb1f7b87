import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../core/config';
import { taskQueues, type TaskQueueRole } from '../workflows/definitions';
import { createWorkers } from './create-workers';
import { createWorkerDeps } from './deps';

/** Worker process entry point. MLOOP_WORKER_ROLES=control,train picks the queues it serves. */
async function main(): Promise<void> {
  const config = loadConfig();
  const roles = (process.env.MLOOP_WORKER_ROLES ?? 'control,train,stream').split(',').map((r) => r.trim()) as TaskQueueRole[];
  for (const r of roles) if (!(r in taskQueues)) throw new Error(`MLOOP_WORKER_ROLES: unknown role "${r}" (known: ${Object.keys(taskQueues).join(', ')})`);

  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const deps = await createWorkerDeps(config);
  // Queue names can be overridden per role, e.g. MLOOP_TASK_QUEUE_TRAIN=gpu-train.
  const queueNames = Object.fromEntries(
    Object.keys(taskQueues).flatMap((role) => {
      const name = process.env[`MLOOP_TASK_QUEUE_${role.toUpperCase()}`];
      return name ? [[role, name]] : [];
    }),
  );
  const workers = await createWorkers({ connection, namespace: config.temporalNamespace, deps, roles, queueNames });
  console.log(`mloop worker serving ${roles.map((r) => queueNames[r] ?? taskQueues[r]).join(', ')} on ${config.temporalAddress}`);
  try {
    // Worker.run handles SIGINT/SIGTERM: it stops polling and finishes running tasks.
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    await deps.close();
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
