import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createDeployActivities } from '../activities/deploy';
import { createHealthActivities } from '../activities/health';
import { createMonitoringActivities } from '../activities/monitoring';
import { createPipelineActivities } from '../activities/pipeline';
import { createRegistryActivities } from '../activities/registry';
import { createShadowActivities } from '../activities/shadow';
import { createTrainActivities } from '../activities/train';
import { taskQueues, type Environment, type TaskQueueRole } from '../workflows/definitions';
import type { WorkerDeps } from './deps';
import { activityMetricsInterceptor } from './metrics-interceptor';

export const workflowsPath = new URL('../workflows/index.ts', import.meta.url).pathname;

export interface CreateWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  deps: WorkerDeps;
  /** Which queues this process serves; all of them by default (the embedded setup). */
  roles?: TaskQueueRole[];
  /** Queue names per role; tests pass their own so they never share a queue. */
  queueNames?: Partial<Record<TaskQueueRole, string>>;
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Stream activities (pipeline units, shadow tests) this process runs at once; 64 by default. */
  streamConcurrency?: number;
}

/**
 * One worker per task queue: `mloop-control` runs workflows and short activities, `mloop-train`
 * runs training. They can share a process or scale alone.
 */
export async function createWorkers(opts: CreateWorkersOptions): Promise<Worker[]> {
  const roles = opts.roles ?? ['control', 'train', 'stream'];
  const names = { ...taskQueues, ...opts.queueNames };
  const activities = {
    ...createTrainActivities(opts.deps),
    ...createRegistryActivities({ registry: opts.deps.registry }),
    ...createShadowActivities({ ...opts.deps, python: opts.deps.pythonOptions }),
    ...createDeployActivities({ releases: opts.deps.releases, registry: opts.deps.registry }),
    ...createMonitoringActivities({
      ...opts.deps,
      queues: { control: names.control, train: names.train, stream: names.stream },
    }),
    ...createHealthActivities({ ...opts.deps, controlQueue: names.control, thresholds: opts.deps.healthThresholds }),
    ...createPipelineActivities({
      brokers: opts.deps.kafkaBrokers,
      kafka: opts.deps.kafka,
      registry: opts.deps.registry,
      temporal: opts.deps.temporal,
      versionServer: async (model, environment, version) => {
        const release = await opts.deps.releases.find(model, environment as Environment, version);
        return release?.servers[0] ? `http://${release.servers[0]}` : null;
      },
    }),
  };
  const workflowSource = opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath };
  const workers: Worker[] = [];
  for (const role of roles) {
    workers.push(
      await Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue: names[role],
        activities,
        interceptors: { activity: [activityMetricsInterceptor] },
        ...(role === 'control' ? workflowSource : {}),
        // Training is CPU-bound; on the train queue run as many at once as there are cores.
        maxConcurrentActivityTaskExecutions:
          role === 'train' ? 2 : role === 'stream' ? (opts.streamConcurrency ?? 64) : 50,
        // Heartbeats carry cancellation back to an activity: keep them frequent so an abort
        // stops a training process within seconds, not a minute.
        maxHeartbeatThrottleInterval: '2 seconds',
        defaultHeartbeatThrottleInterval: '2 seconds',
      }),
    );
  }
  return workers;
}
