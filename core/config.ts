import { createHash } from 'node:crypto';
import path from 'node:path';
import os from 'node:os';
import type { AuthConfig } from './auth/load';

/** Runtime settings, all from the environment with defaults for the embedded single-machine setup. */
export interface MloopConfig {
  temporalAddress: string;
  temporalNamespace: string;
  temporalUiUrl: string;
  kafkaBrokers: string[];
  dataDir: string;
  cacheDir: string;
  pythonExecutable: string;
  runtimeDir: string;
  apiHost: string;
  apiPort: number;
  /** Names the API answers to (the `Host` header), against DNS rebinding: loopback names plus these. */
  apiAllowedHosts: string[];
  auth: AuthConfig;
  deploy: DeployConfig;
  /** Folders that local repositories and datasets must resolve into (MLOOP_ALLOWED_ROOTS, `:`-separated). */
  allowedRoots: string[];
  /** The unprivileged account model code runs as when the worker runs as root (MLOOP_RUNNER_USER). */
  runnerUser: string;
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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): MloopConfig {
  const cacheDir = env.MLOOP_CACHE ?? path.join(os.homedir(), '.cache', 'mloop');
  const dataDir = path.resolve(env.MLOOP_DATA ?? path.join(repoRoot, '.mloop'));
  const apiHost = env.MLOOP_API_HOST ?? '127.0.0.1';
  const baseImage = env.MLOOP_BASE_IMAGE ?? 'python:3.11-slim';
  const localTarball = path.join(cacheDir, 'base-image', 'bookworm-python3.tar');
  return {
    temporalAddress: env.TEMPORAL_ADDRESS ?? `127.0.0.1:${env.TEMPORAL_PORT ?? '7233'}`,
    temporalNamespace: env.TEMPORAL_NAMESPACE ?? 'default',
    temporalUiUrl: env.TEMPORAL_UI_URL ?? `http://127.0.0.1:${env.TEMPORAL_UI_PORT ?? '8233'}`,
    kafkaBrokers: (env.KAFKA_BROKERS ?? `127.0.0.1:${env.KAFKA_PORT ?? '9092'}`).split(',').map((b) => b.trim()).filter(Boolean),
    dataDir,
    cacheDir,
    pythonExecutable: env.MLOOP_PYTHON ?? path.join(cacheDir, 'venv', 'bin', 'python'),
    runtimeDir: path.join(repoRoot, 'python'),
    apiHost,
    apiPort: Number(env.MLOOP_API_PORT ?? '8080'),
    apiAllowedHosts: allowedHosts(apiHost, env.MLOOP_API_ALLOWED_HOSTS),
    auth: {
      tokensFile: path.resolve(env.MLOOP_TOKENS_FILE ?? path.join(dataDir, 'auth', 'tokens.json')),
      cliTokenFile: path.resolve(env.MLOOP_CLI_TOKEN_FILE ?? path.join(dataDir, 'auth', 'cli-token')),
      ...(env.MLOOP_TOKENS !== undefined ? { envTokens: env.MLOOP_TOKENS } : {}),
      bootstrap: env.MLOOP_TOKENS_FILE === undefined && env.MLOOP_TOKENS === undefined,
    },
    deploy: {
      proxyDir: path.join(dataDir, 'proxy'),
      proxyPort: Number(env.MLOOP_PROXY_PORT ?? '8090'),
      processRoot: path.join(dataDir, 'deployments'),
      scope: env.MLOOP_DEPLOY_SCOPE ?? createHash('sha256').update(dataDir).digest('hex').slice(0, 8),
      baseImage,
      baseImageTarball: env.MLOOP_BASE_IMAGE_TARBALL ?? (baseImage === localBaseImage ? localTarball : undefined),
      wheelhouseDir: path.join(cacheDir, 'wheelhouse'),
      imagePython: env.MLOOP_IMAGE_PYTHON ?? '3.11',
    },
    allowedRoots: allowedRoots(env.MLOOP_ALLOWED_ROOTS, [dataDir, path.join(repoRoot, 'examples')]),
    runnerUser: env.MLOOP_RUNNER_USER ?? 'mloop-runner',
  };
}

export const loopbackHosts = ['localhost', '127.0.0.1', '[::1]'];

/** Loopback names, the address the API binds when it is a specific one, and `MLOOP_API_ALLOWED_HOSTS`. */
function allowedHosts(apiHost: string, extra: string | undefined): string[] {
  const bound = ['0.0.0.0', '::', ''].includes(apiHost) ? [] : [apiHost.includes(':') ? `[${apiHost}]` : apiHost];
  const configured = (extra ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  for (const h of configured) {
    if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?$/.test(h)) {
      throw new Error(`MLOOP_API_ALLOWED_HOSTS: "${h}" is not a host name or an IP address, with an optional :port`);
    }
  }
  return [...new Set([...loopbackHosts, ...bound.map((h) => h.toLowerCase()), ...configured])];

}

function allowedRoots(value: string | undefined, defaults: string[]): string[] {
  if (value === undefined || value.trim() === '') return defaults;
  const roots = value.split(path.delimiter).map((r) => r.trim()).filter(Boolean);
  const relative = roots.find((r) => !path.isAbsolute(r));
  if (relative !== undefined) throw new Error(`MLOOP_ALLOWED_ROOTS: "${relative}" is not an absolute path`);
  return roots;
}
