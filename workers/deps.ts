import { Client, Connection } from '@temporalio/client';
import Docker from 'dockerode';
import fs from 'node:fs/promises';
import type { ReleaseManager } from '../activities/deploy';
import path from 'node:path';
import { ArtifactStore } from '../core/artifacts/store';
import type { MloopConfig } from '../core/config';
import { createDockerRuntime, createProcessRuntime, createProxy } from '../core/deploy/components';
import { ServingReleases } from '../core/deploy/releases';
import { GitCheckouts } from '../core/git/checkout';
import { createKafkaAdapter, type KafkaPort } from '../core/kafka/adapter';
import type { HealthThresholds } from '../core/monitoring/health';
import { PythonRuntime, type PythonRuntimeOptions } from '../core/python/runtime';
import { Registry } from '../core/registry/registry';
import { runnerAccount, scratchRoot } from '../core/security/runner-account';
import { defaultAlertsTopic } from '../workflows/monitoring-definitions';

/** The clients every activity factory receives; built once per worker process. */
export interface WorkerDeps {
  registry: Registry;
  git: GitCheckouts;
  artifacts: ArtifactStore;
  /** Dataset snapshots (topic replays), content-addressed like artifacts. */
  datasets: ArtifactStore;
  python: PythonRuntime;
  /** For processes other than training: model servers. */
  pythonOptions: PythonRuntimeOptions;
  kafka: KafkaPort;
  /** The brokers, for stream processors that open their own consumers and transactional producers. */
  kafkaBrokers: string[];
  /** Model servers per release and the stable endpoints in front of them (deploy stage). */
  releases: ReleaseManager;
  /** For activities that message workflows (progress reports). */
  temporal: Client;
  workDir: string;
  allowedRoots: readonly string[];
  /** Where drift checks publish their alerts (`mloop.alerts`, or `MLOOP_ALERTS_TOPIC`). */
  alertsTopic: string;
  /** What the drift checks' health part counts as unhealthy (MLOOP_HEALTH_SILENT_AFTER_SECONDS). */
  healthThresholds: Partial<HealthThresholds>;
  close(): Promise<void>;
}

export async function createWorkerDeps(config: MloopConfig): Promise<WorkerDeps> {
  // First, as it may refuse: a root worker needs the runner account. Model code then reads its
  // checkouts from scratch space where that account can reach them.
  const account = await runnerAccount(config.runnerUser);
  const workDir = await scratchRoot(config.dataDir, account);
  const { pythonExecutable: python, runtimeDir, runnerUser } = config;
  const pythonOptions = { python, runtimeDir, runnerUser };
  const connection = await Connection.connect({ address: config.temporalAddress });
  const registry = await Registry.openSqlite(path.join(config.dataDir, 'registry.db'));
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'mloop-worker' });
  const git = new GitCheckouts(path.join(config.cacheDir, 'repos'), config.allowedRoots);
  const artifacts = new ArtifactStore(path.join(config.dataDir, 'artifacts'));
  // Containers only where a Docker engine is named (the embedded default serves processes).
  const docker = process.env.DOCKER_HOST ? createDockerRuntime(config, new Docker()) : undefined;
  const releases = new ServingReleases({
    proxy: createProxy(config),
    runtimes: {
      // As root, servers run as the runner account from folders it can reach, beside the scratch space.
      process: createProcessRuntime(
        config,
        account ? { account, runnerRoot: path.join(workDir, 'deployments') } : null,
      ),
      ...(docker ? { docker } : {}),
    },
    git,
    artifacts,
    workDir,
  });
  return {
    registry,
    git,
    artifacts,
    datasets: new ArtifactStore(path.join(config.dataDir, 'datasets'), '.csv'),
    python: new PythonRuntime(pythonOptions),
    pythonOptions,
    kafka,
    kafkaBrokers: config.kafkaBrokers,
    releases,
    temporal: new Client({ connection, namespace: config.temporalNamespace }),
    workDir,
    allowedRoots: config.allowedRoots,
    alertsTopic: process.env.MLOOP_ALERTS_TOPIC || defaultAlertsTopic,
    healthThresholds: { silentAfterMs: config.worker.healthSilentAfterMs },
    async close() {
      await kafka.close();
      await registry.close();
      await connection.close();
      // Each attempt removes its own scratch folder; the root goes too once nothing is left in it.
      await fs.rmdir(workDir).catch(() => undefined);
    },
  };
}
