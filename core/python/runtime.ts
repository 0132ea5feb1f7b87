import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { MloopError, type ErrorCode } from '../errors';

/** One line of the runtime's stdout protocol (see python/README.md). */
export type RuntimeEvent =
  | { event: 'progress'; phase: string; [k: string]: unknown }
  | { event: 'log'; line: string }
  | { event: 'result'; artifact: string; metrics: Record<string, number>; rows: { train: number; holdout: number }; params: Record<string, unknown> }
  | { event: 'error'; kind: string; message: string; traceback_tail?: string };

export type TrainOutcome = Extract<RuntimeEvent, { event: 'result' }>;

export interface TrainRequest {
  modelDir: string;
  dataset: string;
  outDir: string;
  params?: Record<string, unknown>;
  seed?: number;
  timeoutMs?: number;
}

export interface PythonRuntimeOptions {
  python: string;
  runtimeDir: string;
}

const exitCodeKinds: Record<number, ErrorCode> = { 2: 'InvalidManifest', 3: 'DatasetInvalid', 4: 'TrainingFailed' };

/**
 * Runs `python -m mloop_runtime train` and turns its JSON-lines protocol into progress callbacks
 * and one typed outcome. The process gets its own process group so that cancellation or a timeout
 * stops the user's code and anything it spawned.
 */
export class PythonTrainRunner {
  constructor(private readonly opts: PythonRuntimeOptions) {}

  async train(req: TrainRequest, onEvent: (e: RuntimeEvent) => void = () => {}, signal?: AbortSignal): Promise<TrainOutcome> {
    const args = ['-m', 'mloop_runtime', 'train', '--model-dir', req.modelDir, '--dataset', req.dataset, '--out', req.outDir];
    if (req.params) args.push('--params', JSON.stringify(req.params));
    if (req.seed !== undefined) args.push('--seed', String(req.seed));

    const child = spawn(this.opts.python, args, {
      cwd: req.modelDir,
      env: { ...process.env, PYTHONPATH: this.opts.runtimeDir, PYTHONUNBUFFERED: '1', PYTHONHASHSEED: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const stopGroup = (): void => {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    };
    const onAbort = (): void => stopGroup();
    signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = req.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          stopGroup();
        }, req.timeoutMs)
      : undefined;

    let result: TrainOutcome | undefined;
    let failure: Extract<RuntimeEvent, { event: 'error' }> | undefined;
    const stderrTail: string[] = [];
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderrTail.push(...chunk.split('\n'));
      stderrTail.splice(0, Math.max(0, stderrTail.length - 40));
    });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      let ev: RuntimeEvent;
      try {
        ev = JSON.parse(line) as RuntimeEvent;
      } catch {
        ev = { event: 'log', line };
      }
      if (ev.event === 'result') result = ev;
      else if (ev.event === 'error') failure = ev;
      onEvent(ev);
    });

    const [code] = await Promise.all([
      new Promise<number | null>((resolve, reject) => {
        child.once('error', (err) => reject(new MloopError('ToolchainMissing', `cannot run ${this.opts.python}: ${err.message}`)));
        child.once('close', (c) => resolve(c));
      }),
      new Promise<void>((resolve) => lines.once('close', resolve)),
    ]).finally(() => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });

    if (signal?.aborted) throw new Error('training cancelled');
    if (timedOut) throw new MloopError('TrainingFailed', `training exceeded its timeout of ${req.timeoutMs} ms and was stopped`);
    if (code === 0 && result) return result;
    const kind = (code !== null && exitCodeKinds[code]) || failure?.kind;
    const message = failure?.message ?? `python runtime exited with code ${code}: ${stderrTail.join('\n').trim().slice(-2000)}`;
    const details = { exitCode: code, tracebackTail: failure?.traceback_tail ?? stderrTail.join('\n').trim() };
    if (kind === 'InvalidManifest' || kind === 'DatasetInvalid' || kind === 'TrainingFailed') throw new MloopError(kind, message, details);
    // Anything else (killed by the OS, runtime crash) may be transient: let Temporal retry it.
    throw new Error(message);
  }
}
