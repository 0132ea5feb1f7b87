import path from 'node:path';
import { ArtifactStore } from '../core/artifacts/store';
import type { MloopConfig } from '../core/config';
import { GitCheckouts } from '../core/git/checkout';
import { PythonTrainRunner } from '../core/python/train-runner';
import { Registry } from '../core/registry/registry';

/** The clients every activity factory receives; built once per worker process. */
export interface WorkerDeps {
  registry: Registry;
  git: GitCheckouts;
  artifacts: ArtifactStore;
  python: PythonTrainRunner;
  workDir: string;
}

export async function createWorkerDeps(config: MloopConfig): Promise<WorkerDeps> {
  return {
    registry: await Registry.openSqlite(path.join(config.dataDir, 'registry.db')),
    git: new GitCheckouts(path.join(config.cacheDir, 'repos')),
    artifacts: new ArtifactStore(path.join(config.dataDir, 'artifacts')),
    python: new PythonTrainRunner({ python: config.pythonExecutable, runtimeDir: config.runtimeDir }),
    workDir: path.join(config.dataDir, 'work'),
  };
}
