import path from 'node:path';
import type Docker from 'dockerode';
import type { MloopConfig } from '../config';
import { DockerRuntime } from './docker-runtime';
import { ModelImageBuilder } from './model-image';
import { ProcessRuntime } from './process-runtime';
import { HaproxyProxy } from './proxy';
import type { RunnerAccount } from '../security/runner-account';

const repoRoot = path.resolve(import.meta.dirname, '../..');

/** The deploy components of one installation, from its configuration. */
export function createProxy(config: MloopConfig): HaproxyProxy {
  return new HaproxyProxy({
    dir: config.deploy.proxyDir,
    baseConfig: path.join(repoRoot, 'provision', 'haproxy', 'haproxy.cfg'),
    proxyPort: config.deploy.proxyPort,
  });
}

/** `account`: the runner account when the worker is root; its servers then live below `runnerRoot`. */
export function createProcessRuntime(
  config: MloopConfig,
  runner: { account: RunnerAccount; runnerRoot: string } | null = null,
): ProcessRuntime {
  return new ProcessRuntime({
    root: runner ? runner.runnerRoot : config.deploy.processRoot,
    account: runner?.account ?? null,
    scope: config.deploy.scope,
    python: config.pythonExecutable,
    runtimeDir: config.runtimeDir,
  });
}

export function createDockerRuntime(config: MloopConfig, docker: Docker): DockerRuntime {
  const images = new ModelImageBuilder({
    docker,
    baseImage: config.deploy.baseImage,
    baseImageTarball: config.deploy.baseImageTarball,
    wheelhouse: {
      python: config.pythonExecutable,
      dir: config.deploy.wheelhouseDir,
      pythonVersion: config.deploy.imagePython,
    },
    runtimeDir: config.runtimeDir,
    workDir: path.join(config.dataDir, 'deployments', 'images'),
  });
  return new DockerRuntime({ docker, images, scope: config.deploy.scope });
}
