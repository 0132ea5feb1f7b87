import { createHash } from 'node:crypto';
import path from 'node:path';
import os from 'node:os';
import type { AuthConfig } from './auth/load';
import { ConfigError, readSettings } from './config/settings';

export { ConfigError } from './config/settings';

/** Runtime settings from the environment and MLOOP_CONFIG, with defaults for the embedded single-machine setup. */
export interface MloopConfig {
  temporalAddress: string;
  temporalNamespace: string;
  temporalUiUrl: string;
  kafkaBrokers: string[];
  /** For pipelines' PostgreSQL sinks that name no URL (POSTGRES_URL, else the dev server). */
  postgresUrl: string;
  dataDir: string;
  cacheDir: string;
  pythonExecutable: string;
  runtimeDir: string;
  apiHost: string;
  apiPort: number;
  /** Where the CLI finds the API. */
  apiUrl: string;
  /** Per dependency, how long `/readyz` waits. */
  readyTimeoutMs: number;
  /** Names the API answers to (the `Host` header), against DNS rebinding: loopback names plus these. */
  apiAllowedHosts: string[];
  auth: AuthConfig;
  worker: WorkerConfig;
  deploy: DeployConfig;
  /** Folders that local repositories and datasets must resolve into (MLOOP_ALLOWED_ROOTS, `:`-separated). */
  allowedRoots: string[];
  /** The unprivileged account model code runs as when the worker runs as root (MLOOP_RUNNER_USER). */
  runnerUser: string;
  /** The token the CLI sends instead of the one in `auth.cliTokenFile` (MLOOP_TOKEN). */
  cliToken?: string;
}

/** The task-queue roles of workflows/definitions.ts (core imports nothing from workflows). */
export type WorkerRole = 'control' | 'train' | 'stream';
const workerRoles: WorkerRole[] = ['control', 'train', 'stream'];

/** What a worker process serves, and where it publishes its metrics. */
export interface WorkerConfig {
  roles: WorkerRole[];
  /** Queue names set for some roles; the others keep theirs (workflows/definitions.ts `taskQueues`). */
  taskQueues: Partial<Record<WorkerRole, string>>;
  metricsHost: string;
  /** 0: a free port, printed at start. */
  metricsPort: number;
  /** The Temporal SDK's own exporter on loopback, merged into the worker's /metrics; 0: a free port. */
  sdkMetricsPort: number;
  /** Stream activities one process runs at once. */
  streamConcurrency: number;
  /** A running pipeline transform silent for longer is a health alert of the drift checks this worker runs. */
  healthSilentAfterMs: number;
}

/** Deployments: the proxy in front of them and how model images are built (core/deploy/). */
export interface DeployConfig {
  /** HAProxy's runtime sockets and generated endpoints ($MLOOP_DATA/proxy), and its own port. */
  proxyDir: string;
  proxyPort: number;
  /** Instance folders of the process backend. */
  processRoot: string;
  /** Keeps installations that share a Docker daemon apart in container names and labels. */
  scope: string;
  /** What model images start from; `python:3.11-slim` where an image registry is reachable. */
  baseImage: string;
  /** A root file system tarball imported as `baseImage` when the daemon lacks it. */
  baseImageTarball?: string;
  wheelhouseDir: string;
  /** The Python version of the base image, which the wheels are fetched for. */
  imagePython: string;
}

/** The base image scripts/lib/base-image.sh builds from Debian's packages, for machines without registries. */
export const localBaseImage = 'mloop/base:bookworm-python3';

const repoRoot = path.resolve(import.meta.dirname, '..');

/**
 * The configuration of this process: the environment over the file MLOOP_CONFIG names, checked
 * against core/config/schema.ts (docs/CONFIGURATION.md). Throws a ConfigError naming every bad
 * setting; entry points call `loadConfigOrExit` so that nothing starts then.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): MloopConfig {
  const s = readSettings(env);
  const cacheDir = s.MLOOP_CACHE ?? path.join(os.homedir(), '.cache', 'mloop');
  const dataDir = path.resolve(s.MLOOP_DATA ?? path.join(repoRoot, '.mloop'));
  const apiHost = s.MLOOP_API_HOST ?? '127.0.0.1';
  const apiPort = s.MLOOP_API_PORT ?? 8080;
  const baseImage = s.MLOOP_BASE_IMAGE ?? 'python:3.11-slim';
  const localTarball = path.join(cacheDir, 'base-image', 'bookworm-python3.tar');
  return {
    temporalAddress: s.TEMPORAL_ADDRESS ?? `127.0.0.1:${s.TEMPORAL_PORT ?? 7233}`,
    temporalNamespace: s.TEMPORAL_NAMESPACE ?? 'default',
    temporalUiUrl: s.TEMPORAL_UI_URL ?? `http://127.0.0.1:${s.TEMPORAL_UI_PORT ?? 8233}`,
    kafkaBrokers: s.KAFKA_BROKERS ?? [`127.0.0.1:${s.KAFKA_PORT ?? 9092}`],
    postgresUrl: s.POSTGRES_URL ?? `postgres://mloop@127.0.0.1:${s.POSTGRES_PORT ?? 55432}/mloop`,
    dataDir,
    cacheDir,
    pythonExecutable: s.MLOOP_PYTHON ?? path.join(cacheDir, 'venv', 'bin', 'python'),
    runtimeDir: path.join(repoRoot, 'python'),
    apiHost,
    apiPort,
    apiUrl: s.MLOOP_API_URL ?? `http://127.0.0.1:${apiPort}`,
    apiAllowedHosts: allowedHosts(apiHost, s.MLOOP_API_ALLOWED_HOSTS ?? []),
    readyTimeoutMs: s.MLOOP_READY_TIMEOUT_MS ?? 2000,
    auth: {
      tokensFile: path.resolve(s.MLOOP_TOKENS_FILE ?? path.join(dataDir, 'auth', 'tokens.json')),
      cliTokenFile: path.resolve(s.MLOOP_CLI_TOKEN_FILE ?? path.join(dataDir, 'auth', 'cli-token')),
      ...(s.MLOOP_TOKENS !== undefined ? { envTokens: s.MLOOP_TOKENS } : {}),
      bootstrap: s.MLOOP_TOKENS_FILE === undefined && s.MLOOP_TOKENS === undefined,
    },
    worker: {
      roles: [...new Set(s.MLOOP_WORKER_ROLES ?? workerRoles)],
      taskQueues: {
        ...(s.MLOOP_TASK_QUEUE_CONTROL ? { control: s.MLOOP_TASK_QUEUE_CONTROL } : {}),
        ...(s.MLOOP_TASK_QUEUE_TRAIN ? { train: s.MLOOP_TASK_QUEUE_TRAIN } : {}),
        ...(s.MLOOP_TASK_QUEUE_STREAM ? { stream: s.MLOOP_TASK_QUEUE_STREAM } : {}),
      },
      metricsHost: s.MLOOP_WORKER_METRICS_HOST ?? '127.0.0.1',
      metricsPort: s.MLOOP_WORKER_METRICS_PORT ?? 9464,
      sdkMetricsPort: s.MLOOP_WORKER_SDK_METRICS_PORT ?? 0,
      streamConcurrency: s.MLOOP_STREAM_CONCURRENCY ?? 64,
      healthSilentAfterMs: (s.MLOOP_HEALTH_SILENT_AFTER_SECONDS ?? 90) * 1000,
    },
    deploy: {
      proxyDir: path.join(dataDir, 'proxy'),
      proxyPort: s.MLOOP_PROXY_PORT ?? 8090,
      processRoot: path.join(dataDir, 'deployments'),
      scope: s.MLOOP_DEPLOY_SCOPE ?? createHash('sha256').update(dataDir).digest('hex').slice(0, 8),
      baseImage,
      baseImageTarball: s.MLOOP_BASE_IMAGE_TARBALL ?? (baseImage === localBaseImage ? localTarball : undefined),
      wheelhouseDir: path.join(cacheDir, 'wheelhouse'),
      imagePython: s.MLOOP_IMAGE_PYTHON ?? '3.11',
    },
    allowedRoots: s.MLOOP_ALLOWED_ROOTS?.length ? s.MLOOP_ALLOWED_ROOTS : [dataDir, path.join(repoRoot, 'examples')],
    runnerUser: s.MLOOP_RUNNER_USER ?? 'mloop-runner',
    ...(s.MLOOP_TOKEN !== undefined ? { cliToken: s.MLOOP_TOKEN } : {}),
  };
}

/**
 * For entry points: the configuration, or a message naming every bad setting on stderr and the
 * exit code 78 (EX_CONFIG) before anything starts.
 */
export function loadConfigOrExit(processName: string, env: NodeJS.ProcessEnv = process.env): MloopConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const lines = err.problems.map((p) => `  ${p.message}\n`).join('');
    process.stderr.write(`${processName}: invalid configuration\n${lines}`);
    process.exit(configErrorExitCode);
  }
}

export const configErrorExitCode = 78;

export const loopbackHosts = ['localhost', '127.0.0.1', '[::1]'];

/** Loopback names, the address the API binds when it is a specific one, and `MLOOP_API_ALLOWED_HOSTS`. */
function allowedHosts(apiHost: string, configured: string[]): string[] {
  const bound = ['0.0.0.0', '::', ''].includes(apiHost) ? [] : [apiHost.includes(':') ? `[${apiHost}]` : apiHost];
  return [...new Set([...loopbackHosts, ...bound, ...configured].map((h) => h.toLowerCase()))];
}
