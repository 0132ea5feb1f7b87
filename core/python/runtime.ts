import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Gate } from '../evaluation/gates';
import { MloopError, type ErrorCode } from '../errors';

export interface ManifestSummary {
  name: string;
  task: 'classification' | 'regression';
  metrics: string[];
  gates: Gate[];
  features: string[];
  target: string;
}

export interface HoldoutEcho {
  seed: number;
  fraction: number;
  rows: number;
  digest: string;
}

/** One line of the runtime's stdout protocol (see python/README.md). */
export type RuntimeEvent =
  | { event: 'progress'; phase: string; status?: string; rows?: number; epoch?: number; [k: string]: unknown }
  | { event: 'log'; line: string; stream?: string }
  | { event: 'result'; [k: string]: unknown }
  | { event: 'error'; kind: string; message: string; traceback_tail?: string | null; rows?: unknown[]; bad_row_count?: number; problems?: string[] };

export interface TrainOutcome {
  artifact: string;
  /** The reference profile for drift checks, written next to the artifact. */
  profile: string;
  metrics: Record<string, number | null>;
  rows: { train: number; holdout: number };
  params: Record<string, unknown>;
  manifest: ManifestSummary;
  holdout: HoldoutEcho;
  /** Binary classification: the class precision, recall, f1 and roc_auc are of; else null. */
  positive_class: string | number | null;
}

export interface EvaluateOutcome {
  metrics: Record<string, number | null>;
  manifest: ManifestSummary;
  holdout: HoldoutEcho;
  positive_class: string | number | null;
}

export interface RunControl {
  onEvent?: (e: RuntimeEvent) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface TrainRequest {
  modelDir: string;
  dataset: string;
  outDir: string;
  params?: Record<string, unknown>;
  seed: number;
  holdoutFraction: number;
}

export interface EvaluateRequest {
  modelDir: string;
  artifact: string;
  dataset: string;
  seed: number;
  holdoutFraction: number;
}

export interface PythonRuntimeOptions {
  python: string;
  runtimeDir: string;
}

/** The environment every `python -m mloop_runtime` command runs with. */
export const runtimeEnv = (runtimeDir: string): NodeJS.ProcessEnv => ({
  ...process.env,
  PYTHONPATH: runtimeDir,
  PYTHONUNBUFFERED: '1',
  // Fixed, so pickled models that hold sets of strings come out byte-identical.
  PYTHONHASHSEED: '0',
});

const exitCodeKinds: Record<number, ErrorCode> = { 2: 'InvalidManifest', 3: 'DatasetInvalid', 4: 'TrainingFailed' };

/**
 * Runs `python -m mloop_runtime` commands and turns the JSON-lines protocol into events and one
 * typed outcome. Each run gets its own process group, so cancellation or a timeout stops the
 * user's code and anything it spawned.
 */
export class PythonRuntime {
  constructor(private readonly opts: PythonRuntimeOptions) {}

  async train(req: TrainRequest, control: RunControl = {}): Promise<TrainOutcome> {
    const args = ['train', '--model-dir', req.modelDir, '--dataset', req.dataset, '--out', req.outDir];
    args.push('--seed', String(req.seed), '--holdout-fraction', String(req.holdoutFraction));
    if (req.params) args.push('--params', JSON.stringify(req.params));
    return (await this.run(args, req.modelDir, control)) as unknown as TrainOutcome;
  }

  async evaluate(req: EvaluateRequest, control: RunControl = {}): Promise<EvaluateOutcome> {
    const args = ['evaluate', '--model-dir', req.modelDir, '--artifact', req.artifact, '--dataset', req.dataset];
    args.push('--seed', String(req.seed), '--holdout-fraction', String(req.holdoutFraction));
    return (await this.run(args, req.modelDir, control)) as unknown as EvaluateOutcome;
  }

  /** Runs another runtime command (e.g. `drift`) under the same supervision; resolves to its `result` event. */
  async command(args: string[], cwd: string, control: RunControl = {}): Promise<Record<string, unknown>> {
    return this.run(args, cwd, control);
  }

  private async run(args: string[], cwd: string, { onEvent = () => {}, signal, timeoutMs }: RunControl): Promise<Record<string, unknown>> {
    if (signal?.aborted) throw new Error('cancelled before the Python runtime started');
    const child = spawn(this.opts.python, ['-m', 'mloop_runtime', ...args], {
      cwd,
      env: runtimeEnv(this.opts.runtimeDir),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const stopGroup = (): void => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    };
    signal?.addEventListener('abort', stopGroup, { once: true });
    let timedOut = false;
    const timer = timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          stopGroup();
        }, timeoutMs)
      : undefined;

    let result: Record<string, unknown> | undefined;
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
      signal?.removeEventListener('abort', stopGroup);
    });

    if (signal?.aborted) throw new Error('cancelled: the Python runtime was stopped');
    if (timedOut) throw new MloopError('TrainingFailed', `the Python runtime exceeded its timeout of ${Math.round((timeoutMs ?? 0) / 1000)} s and was stopped`);
    if (code === 0 && result) return result;
    const kind = (code !== null && exitCodeKinds[code]) || failure?.kind;
    const tail = failure?.traceback_tail ?? stderrTail.join('\n').trim();
    const message = failure?.message ?? `python runtime exited with code ${code}: ${stderrTail.join('\n').trim().slice(-2000)}`;
    const details = { exitCode: code, tracebackTail: tail, ...(failure?.rows ? { rows: failure.rows, badRowCount: failure.bad_row_count } : {}) };
    if (kind === 'TrainingFailed') throw new MloopError(kind, tail ? `${message}\n${tail}` : message, details);
    if (kind === 'InvalidManifest' || kind === 'DatasetInvalid') throw new MloopError(kind, message, details);
    // Anything else (killed by the OS, a runtime crash) may be transient: let Temporal retry it.
    throw new Error(message);
  }
}
