import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localBaseImage } from '../../core/config';
import { DockerRuntime } from '../../core/deploy/docker-runtime';
import { ModelImageBuilder } from '../../core/deploy/model-image';
import type { ServingReleases } from '../../core/deploy/releases';
import {
  driftCheckWorkflowId,
  type DriftCheckResult,
  type Environment,
  type LifecycleResult,
  type RuntimeBackend,
} from '../../workflows/definitions';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import {
  publishedAlerts,
  scheduledCheck as triggerScheduledCheck,
  startServingStack,
  type ServingStack,
} from '../helpers/serving-stack';
import { config, tempDir, testNames, type TestStack } from '../helpers/stack';
import { until } from '../helpers/until';

const minutes = (n: number): number => n * 60_000;

/**
 * Acceptance 3 of the monitoring stage, the servers' half: the example model deployed by the
 * deploy workflow, its model server stopped behind its endpoint, and the next drift check
 * publishes one `component_down` alert; the check after it publishes none (deduped).
 */
describe('health alerts of a deployed model (real stack)', () => {
  let s: ServingStack;
  let stack: TestStack;
  let releases: ServingReleases;
  const docker = new Docker();
  const names = testNames('health');
  const model = `pm-health-${names.prefix.slice(-8)}`;
  let dockerRuntime: DockerRuntime;
  let repo: Awaited<ReturnType<typeof createExampleModelRepo>>;
  let version: { version: number; commitSha: string; repoUrl: string; repoPath: string; artifactDigest: string };

  beforeAll(async () => {
    const baseImage = process.env.MLOOP_BASE_IMAGE ?? localBaseImage;
    const images = new ModelImageBuilder({
      docker,
      baseImage,
      baseImageTarball:
        baseImage === localBaseImage ? path.join(config.cacheDir, 'base-image', 'bookworm-python3.tar') : undefined,
      wheelhouse: {
        python: config.pythonExecutable,
        dir: path.join(config.cacheDir, 'wheelhouse'),
        pythonVersion: '3.11',
      },
      runtimeDir: config.runtimeDir,
      workDir: await tempDir('health-images'),
    });
    s = await startServingStack('health', names.prefix, {
      docker: (scope) => (dockerRuntime = new DockerRuntime({ docker, images, scope, stopTimeoutS: 5 })),
    });
    ({ stack, releases } = s);
    repo = await createExampleModelRepo();
    const lifecycle = await stack.client.workflow.start('modelLifecycle', {
      workflowId: `lifecycle/${model}/first`,
      taskQueue: stack.queues.control,
      args: [
        {
          model,
          repo: { url: repo.url, ref: 'main', path: repo.path },
          dataset: { path: await createExampleDataset(1500, 42) },
          requestedBy: 'olivia',
          trainTaskQueue: stack.queues.train,
          streamTaskQueue: stack.queues.stream,
        },
      ],
    });
    const trained = ((await lifecycle.result()) as LifecycleResult).train!;
    const v = await stack.deps.registry.getVersion(model, trained.version);
    version = {
      version: v.version,
      commitSha: v.commitSha,
      repoUrl: v.repoUrl,
      repoPath: v.repoPath,
      artifactDigest: v.artifactDigest,
    };
  }, minutes(10));

  afterAll(async () => {
    await s?.stop();
    const left = await docker.listContainers({ all: true, filters: { label: [`io.mloop.scope=${s?.scope}`] } });
    for (const c of left) await docker.getContainer(c.Id).remove({ force: true });
  }, minutes(3));

  async function deploy(environment: Environment, backend: RuntimeBackend): Promise<void> {
    s.deployed.push({ model, environment });
    await (
      await stack.client.workflow.start('deployModel', {
        workflowId: `deploy/${model}/${environment}/${backend}`,
        taskQueue: stack.queues.control,
        args: [
          {
            model,
            version,
            environment,
            backend,
            resources: { memoryMb: 768, cpus: 0.5, healthTimeoutSeconds: 300 },
            requestedBy: 'olivia',
            // Pre-approved goes straight to production; staging deploys, checks and stops there.
            ...(environment === 'production'
              ? { preApproved: { approved: true, by: 'ada', at: new Date().toISOString() } }
              : {}),
            deployTaskQueue: stack.queues.control,
          },
        ],
      })
    ).result();
  }

  const published = (environment: Environment) => publishedAlerts(s, environment);
  const scheduledCheck = async (): Promise<DriftCheckResult> =>
    (await triggerScheduledCheck(stack.client, model, 'production')).result;

  async function check(environment: Environment, key: string): Promise<DriftCheckResult> {
    return (await stack.client.workflow.execute('driftCheck', {
      workflowId: driftCheckWorkflowId(model, environment, key),
      taskQueue: stack.queues.control,
      args: [{ model, environment, requestedBy: 'olivia' }],
    })) as DriftCheckResult;
  }

  it(
    'process backend: a killed model server raises one component_down alert, deduped on the next check',
    async () => {
      await deploy('staging', 'process');
      expect((await check('staging', 'healthy')).alerts ?? []).toEqual([]);
      const [server] = await releases.serving(model, 'staging');
      expect(server?.instance?.runtime).toBe('process');
      process.kill(Number(server!.instance!.ref), 'SIGKILL');
      await until(
        'the server to be gone',
        async () => !(await releases.serving(model, 'staging'))[0]?.instance,
        30_000,
      );

      const first = await check('staging', 'killed');
      const key = `${model}/staging/${version.version}/component_down/${encodeURIComponent(`server/${server!.name}`)}`;
      expect(first.alerts).toEqual([key]);
      const alert = (await published('staging')).find((a) => a.dedupeKey === key);
      expect(alert).toMatchObject({ type: 'component_down', severity: 'critical', version: version.version });
      expect(alert?.message).toContain('is not running');

      const second = await check('staging', 'killed-again');
      expect(second.alerts ?? []).toEqual([]);
      expect((await published('staging')).filter((a) => a.type === 'component_down')).toHaveLength(1);
    },
    minutes(10),
  );

  it(
    'docker backend in production: a stopped container raises one component_down alert from the schedule, deduped',
    async () => {
      // The model image is built here first: on a loaded machine its build outlasts the deploy
      // activity's heartbeat timeout. The deploy then adopts the running container of that name.
      await dockerRuntime.ensure({
        model,
        environment: 'production',
        version: version.version,
        replica: 0,
        sha: version.commitSha,
        artifactDigest: version.artifactDigest,
        modelDir: path.join(repo.url, repo.path),
        artifactPath: stack.deps.artifacts.pathOf(version.artifactDigest),
        resources: { memoryMb: 768, cpus: 0.5 },
        readyTimeoutMs: minutes(5),
      });
      await deploy('production', 'docker');
      const [server] = await releases.serving(model, 'production');
      expect(server?.instance?.runtime).toBe('docker');
      expect((await scheduledCheck()).alerts ?? []).toEqual([]);
      await docker.getContainer(server!.instance!.ref).stop({ t: 5 });

      const first = await scheduledCheck();
      const subject = encodeURIComponent(`server/${server!.name}`);
      const key = `${model}/production/${version.version}/component_down/${subject}`;
      expect(first.alerts).toEqual([key]);
      const [alert, ...more] = (await published('production')).filter((a) => a.type === 'component_down');
      expect(more).toEqual([]);
      expect(alert).toMatchObject({ type: 'component_down', severity: 'critical', subject: `server/${server!.name}` });

      expect((await scheduledCheck()).alerts ?? []).toEqual([]);
      expect((await published('production')).filter((a) => a.type === 'component_down')).toHaveLength(1);
    },
    minutes(20),
  );
});
