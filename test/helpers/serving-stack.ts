import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { DockerRuntime } from '../../core/deploy/docker-runtime';
import { ProcessRuntime } from '../../core/deploy/process-runtime';
import { ServingReleases } from '../../core/deploy/releases';
import type { ConsumedRecord } from '../../core/kafka/adapter';
import type { Alert } from '../../core/monitoring/alerts';
import { runnerAccount } from '../../core/security/runner-account';
import type { WorkerDeps } from '../../workers/deps';
import { driftScheduleId, type DriftCheckResult, type Environment } from '../../workflows/definitions';
import { exampleRuntime } from './monitoring';
import { createExampleDataset, createExampleModelRepo } from './model-repo';
import { startTestProxy, type TestProxy } from './proxy';
import { newVersion } from './registry';
import { config, startTestStack, tempDir, type TestStack } from './stack';
import { until } from './until';

/**
 * A test stack whose deploy activities start model-server processes behind a private HAProxy,
 * so the deploy workflow puts a model in an environment as it does for users (endpoint, alias,
 * drift schedule), and alerts go to a topic of the test's own.
 */
export interface ServingStack {
  stack: TestStack;
  proxy: TestProxy;
  releases: ServingReleases;
  alertsTopic: string;
  /** Labels its servers (and containers), so a test removes exactly its own. */
  scope: string;
  /** What was deployed through it, retired (and its schedule removed) by `stop`. */
  deployed: Array<{ model: string; environment: Environment }>;
  stop(): Promise<void>;
}

/** A deploy scope from a test's name prefix: short, lower-case letters and digits. */
export const scopeOf = (prefix: string): string => prefix.replace(/[^a-z0-9]/g, '').slice(-16);

export async function startServingStack(
  name: string,
  prefix: string,
  opts: { deps?: Partial<WorkerDeps>; docker?: (scope: string) => DockerRuntime } = {},
): Promise<ServingStack> {
  const scope = scopeOf(prefix);
  const proxy = await startTestProxy(name);
  const alertsTopic = `${prefix}-alerts`;
  // The releases need the stack's git checkouts and artifact store, which the stack creates.
  const late: { releases?: ServingReleases } = {};
  const stack = await startTestStack(name, {
    alertsTopic,
    releases: {
      start: (...a) => late.releases!.start(...a),
      check: (...a) => late.releases!.check(...a),
      route: (...a) => late.releases!.route(...a),
      stop: (...a) => late.releases!.stop(...a),
      find: (...a) => late.releases!.find(...a),
      retire: (...a) => late.releases!.retire(...a),
      serving: (...a) => late.releases!.serving(...a),
    },
    ...opts.deps,
  }).catch(async (err: unknown) => {
    await proxy.destroy();
    throw err;
  });
  const releases = new ServingReleases({
    proxy: proxy.proxy,
    runtimes: {
      process: new ProcessRuntime({
        root: path.join(stack.deps.workDir, 'deployments'),
        scope,
        python: config.pythonExecutable,
        runtimeDir: config.runtimeDir,
        account: await runnerAccount(config.runnerUser),
      }),
      ...(opts.docker ? { docker: opts.docker(scope) } : {}),
    },
    git: stack.deps.git,
    artifacts: stack.deps.artifacts,
    workDir: stack.deps.workDir,
    drainTimeoutMs: 2_000,
  });
  late.releases = releases;
  await stack.deps.kafka.ensureTopic(alertsTopic, 1);
  const deployed: ServingStack['deployed'] = [];
  return {
    stack,
    proxy,
    releases,
    alertsTopic,
    scope,
    deployed,
    async stop() {
      for (const d of deployed) {
        await stack.client.schedule
          .getHandle(driftScheduleId(d.model, d.environment))
          .delete()
          .catch(() => undefined);
        await releases.retire(d.model, d.environment).catch(() => undefined);
      }
      await stack.stop();
      await proxy.destroy();
    },
  };
}

/**
 * The example model trained once (directly, not by a lifecycle: the deploy is what is under
 * test) and registered, then deployed to production by the deploy workflow on the process
 * backend, pre-approved. Returns the version deployed.
 */
export async function deployExampleToProduction(s: ServingStack, model: string): Promise<number> {
  const repo = await createExampleModelRepo();
  const outDir = path.join(await tempDir(`${model}-train`), 'out');
  await exampleRuntime().train({
    modelDir: path.join(repo.url, repo.path),
    dataset: await createExampleDataset(1500, 42),
    outDir,
    seed: 0,
    holdoutFraction: 0.2,
  });
  const stored = await s.stack.deps.artifacts.put(path.join(outDir, 'model.joblib'));
  const v = await s.stack.deps.registry.registerVersion(
    newVersion(model, `${model}-v1`, {
      artifactDigest: stored.digest,
      artifactSize: stored.sizeBytes,
      repoUrl: repo.url,
      repoPath: repo.path,
      commitSha: repo.sha,
    }),
  );
  const deploy = await s.stack.client.workflow.start('deployModel', {
    workflowId: `deploy/${model}/production/first`,
    taskQueue: s.stack.queues.control,
    args: [
      {
        model,
        version: {
          version: v.version,
          commitSha: v.commitSha,
          repoUrl: v.repoUrl,
          repoPath: v.repoPath,
          artifactDigest: v.artifactDigest,
        },
        environment: 'production',
        backend: 'process',
        resources: { memoryMb: 768, cpus: 0.5, healthTimeoutSeconds: 300 },
        requestedBy: 'olivia',
        preApproved: { approved: true, by: 'ada', at: new Date().toISOString() },
        deployTaskQueue: s.stack.queues.control,
      },
    ],
  });
  s.deployed.push({ model, environment: 'production' });
  await deploy.result();
  return v.version;
}

/** The alerts on the stack's alerts topic so far, of one environment. */
export async function publishedAlerts(s: ServingStack, environment: Environment): Promise<Alert[]> {
  const out: ConsumedRecord[] = [];
  const ranges = (await s.stack.deps.kafka.partitionOffsets(s.alertsTopic))
    .map((p) => ({ partition: p.partition, from: p.low, to: p.high }))
    .filter((r) => r.to !== r.from);
  await s.stack.deps.kafka.readRanges(s.alertsTopic, ranges, async (batch) => void out.push(...batch));
  return out.map((r) => JSON.parse(r.value) as Alert).filter((a) => a.environment === environment);
}

/**
 * Triggers the environment's drift schedule once and waits for the check it starts, which runs
 * exactly as the schedule's own runs do (same workflow, input and queue). The trigger waits until
 * the schedule has seen its last run close, and is sent again when nothing started after 30 s (a
 * trigger the scheduler dropped under load); what the schedule said then is logged.
 */
export async function scheduledCheck(
  client: Client,
  model: string,
  environment: Environment,
): Promise<{ workflowId: string; result: DriftCheckResult }> {
  const schedule = client.schedule.getHandle(driftScheduleId(model, environment));
  const ids = async () => (await schedule.describe()).info.recentActions.map((a) => a.action.workflow.workflowId);
  const before = new Set(await ids());
  await until('the schedule to see its last check close', async () =>
    (await schedule.describe()).info.runningActions.length === 0 ? true : undefined,
  );
  let workflowId: string | undefined;
  for (let attempt = 1; workflowId === undefined; attempt++) {
    await schedule.trigger();
    try {
      workflowId = await until(
        'the schedule to start a check',
        async () => (await ids()).find((w) => !before.has(w)),
        30_000,
      );
    } catch (err) {
      const { info, state } = await schedule.describe();
      console.log(`trigger ${attempt} started nothing:`, JSON.stringify({ info, state }));
      if (attempt === 2) throw err;
    }
  }
  return { workflowId, result: (await client.workflow.getHandle(workflowId).result()) as DriftCheckResult };
}
