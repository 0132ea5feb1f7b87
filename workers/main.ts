import { NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfigOrExit } from '../core/config';
import { workerRegistry } from '../core/metrics/series';
import { taskQueues } from '../workflows/definitions';
import { createWorkers } from './create-workers';
import { createWorkerDeps } from './deps';
import { freeLoopbackPort, startMetricsServer } from './metrics-server';

/** Worker process entry point; MLOOP_WORKER_ROLES picks the queues it serves (docs/CONFIGURATION.md). */
async function main(): Promise<void> {
  // First: a bad setting stops the process before anything starts.
  const config = loadConfigOrExit('mloop worker');
  const { roles, taskQueues: queueNames } = config.worker;

  // The SDK's runtime series come from its own exporter, which must be installed before any
  // connection; the worker's /metrics appends them to mloop's, so one scrape gets both.
  const sdkPort = config.worker.sdkMetricsPort || (await freeLoopbackPort());
  Runtime.install({
    telemetryOptions: {
      metrics: {
        prometheus: {
          bindAddress: `127.0.0.1:${sdkPort}`,
          countersTotalSuffix: true,
          unitSuffix: true,
          useSecondsForDurations: true,
        },
      },
    },
  });
  const metrics = await startMetricsServer({
    host: config.worker.metricsHost,
    port: config.worker.metricsPort,
    registry: workerRegistry,
    sdkMetricsUrl: `http://127.0.0.1:${sdkPort}/metrics`,
  });

  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const deps = await createWorkerDeps(config);
  const workers = await createWorkers({
    connection,
    namespace: config.temporalNamespace,
    deps,
    roles,
    queueNames,
    streamConcurrency: config.worker.streamConcurrency,
  });
  const served = roles.map((r) => queueNames[r] ?? taskQueues[r]).join(', ');
  console.log(`mloop worker serving ${served} on ${config.temporalAddress}; metrics at ${metrics.url}`);
  try {
    // Worker.run handles SIGINT/SIGTERM: it stops polling and finishes running tasks.
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    await metrics.close();
    await deps.close();
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
