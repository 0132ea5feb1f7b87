import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

/** The real worker entry point in its own process, so it can be killed like a crashed machine. */
export function startWorker(
  dataDir: string,
  queues: { control: string; train: string; stream?: string },
  env: Record<string, string> = {},
): { proc: ChildProcess; ready: Promise<void>; metricsUrl: Promise<string> } {
  const proc = spawn(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'workers/main.ts')], {
    // A free port for the worker's metrics listener, so workers of parallel tests never collide.
    env: {
      ...process.env,
      MLOOP_WORKER_METRICS_PORT: '0',
      MLOOP_DATA: dataDir,
      MLOOP_TASK_QUEUE_CONTROL: queues.control,
      MLOOP_TASK_QUEUE_TRAIN: queues.train,
      ...(queues.stream ? { MLOOP_TASK_QUEUE_STREAM: queues.stream } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  let metricsUrl: (url: string) => void = () => undefined;
  const metrics = new Promise<string>((resolve) => (metricsUrl = resolve));
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('mloop worker serving')) {
        const url = /metrics at (http:\/\/\S+)/.exec(output)?.[1];
        if (url) metricsUrl(url);
        resolve();
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    proc.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready:\n${output}`)));
  });
  return { proc, ready, metricsUrl: metrics };
}

export const killGroup = (proc: ChildProcess, signal: NodeJS.Signals): void => {
  if (proc.pid !== undefined && proc.exitCode === null) {
    try {
      process.kill(-proc.pid, signal);
    } catch {
      /* gone */
    }
  }
};
