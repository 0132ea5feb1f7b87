import path from 'node:path';
import os from 'node:os';

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
  /** Folders that local repositories and datasets must resolve into (MLOOP_ALLOWED_ROOTS, `:`-separated). */
  allowedRoots: string[];
  /** The unprivileged account model code runs as when the worker runs as root (MLOOP_RUNNER_USER). */
  runnerUser: string;
}

const repoRoot = path.resolve(import.meta.dirname, '..');

export function loadConfig(env: NodeJS.ProcessEnv = process.env): MloopConfig {
  const cacheDir = env.MLOOP_CACHE ?? path.join(os.homedir(), '.cache', 'mloop');
  const dataDir = path.resolve(env.MLOOP_DATA ?? path.join(repoRoot, '.mloop'));
  return {
    temporalAddress: env.TEMPORAL_ADDRESS ?? `127.0.0.1:${env.TEMPORAL_PORT ?? '7233'}`,
    temporalNamespace: env.TEMPORAL_NAMESPACE ?? 'default',
    temporalUiUrl: env.TEMPORAL_UI_URL ?? `http://127.0.0.1:${env.TEMPORAL_UI_PORT ?? '8233'}`,
    kafkaBrokers: (env.KAFKA_BROKERS ?? `127.0.0.1:${env.KAFKA_PORT ?? '9092'}`).split(',').map((b) => b.trim()).filter(Boolean),
    dataDir,
    cacheDir,
    pythonExecutable: env.MLOOP_PYTHON ?? path.join(cacheDir, 'venv', 'bin', 'python'),
    runtimeDir: path.join(repoRoot, 'python'),
    apiHost: env.MLOOP_API_HOST ?? '127.0.0.1',
    apiPort: Number(env.MLOOP_API_PORT ?? '8080'),
    allowedRoots: allowedRoots(env.MLOOP_ALLOWED_ROOTS, [dataDir, path.join(repoRoot, 'examples')]),
    runnerUser: env.MLOOP_RUNNER_USER ?? 'mloop-runner',
  };
}

function allowedRoots(value: string | undefined, defaults: string[]): string[] {
  if (value === undefined || value.trim() === '') return defaults;
  const roots = value.split(path.delimiter).map((r) => r.trim()).filter(Boolean);
  const relative = roots.find((r) => !path.isAbsolute(r));
  if (relative !== undefined) throw new Error(`MLOOP_ALLOWED_ROOTS: "${relative}" is not an absolute path`);
  return roots;
}
