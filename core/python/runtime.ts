import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Gate } from '../evaluation/gates';
import { MloopError, type ErrorCode } from '../errors';
import { killGroup, lineTail, spawnFailure } from './process-group';
import { startModelProcess, type ModelProcess, type ModelProcessPaths } from './model-process';

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
  | {
      event: 'error';
      kind: string;
      message: string;
      traceback_tail?: string | null;
      rows?: unknown[];
      bad_row_count?: number;
      problems?: string[];
    };

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
  /** The account model code runs as when the worker is root (default `mloop-runner`). */
  runnerUser?: string;
}

const exitCodeKinds: Record<number, ErrorCode> = { 2: 'InvalidManifest', 3: 'DatasetInvalid', 4: 'TrainingFailed' };

/**
 * Runs `python -m mloop_runtime` commands and turns the JSON-lines protocol into events and one
 * typed outcome. Processes start through `startModelProcess` (their own process group, an
 * unprivileged account when the worker is root), so cancellation or a timeout stops the user's
 * code and anything it spawned.
 */
/** Where a command's outputs go, and which files of its result must be there. */
export interface CommandOutput {
  dir: string;
  files: (result: Record<string, unknown>) => unknown[];
}

export class PythonRuntime {
  constructor(private readonly opts: PythonRuntimeOptions) {}

  async train(req: TrainRequest, control: RunControl = {}): Promise<TrainOutcome> {
    await assertEmptyOrMissing(req.outDir);
    const args = (p: ModelProcessPaths): string[] => [
      'train',
      ...['--model-dir', p.modelDir, '--dataset', p.inputs.dataset ?? req.dataset, '--out', p.outDir],
      ...['--seed', String(req.seed), '--holdout-fraction', String(req.holdoutFraction)],
      ...(req.params ? ['--params', JSON.stringify(req.params)] : []),
    ];
    const output = { dir: req.outDir, files: (r: Record<string, unknown>) => [r.artifact, r.profile] };
    const outcome = await this.run(req.modelDir, { dataset: req.dataset }, args, control, output);
    return outcome as unknown as TrainOutcome;
  }

  async evaluate(req: EvaluateRequest, control: RunControl = {}): Promise<EvaluateOutcome> {
    const args = (p: ModelProcessPaths): string[] => [
      'evaluate',
      ...['--model-dir', p.modelDir, '--artifact', p.inputs.artifact ?? req.artifact],
      ...['--dataset', p.inputs.dataset ?? req.dataset],
      ...['--seed', String(req.seed), '--holdout-fraction', String(req.holdoutFraction)],
    ];
    const inputs = { artifact: req.artifact, dataset: req.dataset };
    return (await this.run(req.modelDir, inputs, args, control)) as unknown as EvaluateOutcome;
  }

  /**
   * Runs another runtime command (e.g. `drift`) under the same supervision, as the same account;
   * resolves to its `result` event, with the files it names collected into `output.dir`.
   */
  async command(
    modelDir: string,
    inputs: Record<string, string>,
    args: (p: ModelProcessPaths) => string[],
    control: RunControl = {},
    output?: CommandOutput,
  ): Promise<Record<string, unknown>> {
    if (output) await assertEmptyOrMissing(output.dir);
    return this.run(modelDir, inputs, args, control, output);
  }

  /** Runs one command to its end; with `output`, the files its result names are collected there on success. */
  private async run(
    modelDir: string,
    inputs: Record<string, string>,
    args: (p: ModelProcessPaths) => string[],
    { onEvent = () => {}, signal, timeoutMs }: RunControl,
    output?: CommandOutput,
  ): Promise<Record<string, unknown>> {
    if (signal?.aborted) throw new Error('cancelled before the Python runtime started');
    const proc = await startModelProcess({ ...this.opts, modelDir, inputs, args });
    try {
      const result = await this.supervise(proc, { onEvent, signal, timeoutMs });
      if (output !== undefined) {
        // Plain file names in the output folder, as the protocol has it (python/README.md).
        const files = output.files(result);
        const bad = files.find((f) => typeof f !== 'string' || f !== path.basename(f) || f.startsWith('.'));
        if (bad !== undefined || files.length === 0) {
          throw new Error(`the Python runtime named an unusable output file ${JSON.stringify(bad)}`);
        }
        await proc.collectOutput(output.dir, files as string[]);
      }
      return result;
    } finally {
      await proc.dispose();
    }
  }

  private async supervise(
    proc: ModelProcess,
    { onEvent = () => {}, signal, timeoutMs }: RunControl,
  ): Promise<Record<string, unknown>> {
    const { child, describe } = proc;
    const stopGroup = (): void => killGroup(child.pid, 'SIGKILL');
    signal?.addEventListener('abort', stopGroup, { once: true });
    // Aborted while the sandbox was being prepared: no 'abort' event will come any more.
    if (signal?.aborted) stopGroup();
    let timedOut = false;
    const timer = timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          stopGroup();
        }, timeoutMs)
      : undefined;

    let result: Record<string, unknown> | undefined;
    let failure: Extract<RuntimeEvent, { event: 'error' }> | undefined;
    const stderrTail = lineTail(child.stderr, { max: 40 });
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
      else if (ev.event === 'log') ev = { ...ev, line: describe(ev.line) };
      onEvent(ev);
    });

    const [code] = await Promise.all([
      new Promise<number | null>((resolve, reject) => {
        child.once('error', (err) => reject(spawnFailure(this.opts.python, err)));
        child.once('close', (c) => resolve(c));
      }),
      new Promise<void>((resolve) => lines.once('close', resolve)),
    ]).finally(() => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', stopGroup);
      // Children the user's code left behind share the group; they go before its sandbox does.
      stopGroup();
    });

    if (signal?.aborted) throw new Error('cancelled: the Python runtime was stopped');
    if (timedOut)
      throw new MloopError(
        'TrainingFailed',
        `the Python runtime exceeded its timeout of ${Math.round((timeoutMs ?? 0) / 1000)} s and was stopped`,
      );
    if (code === 0 && result) return result;
    const kind = (code !== null && exitCodeKinds[code]) || failure?.kind;
    const stderr = describe(stderrTail().trim());
    const tail = failure?.traceback_tail ? describe(failure.traceback_tail) : stderr;
    const message = failure?.message
      ? describe(failure.message)
      : `python runtime exited with code ${code}: ${stderr.slice(-2000)}`;
    const details = {
      exitCode: code,
      tracebackTail: tail,
      ...(failure?.rows ? { rows: failure.rows, badRowCount: failure.bad_row_count } : {}),
    };
    if (kind === 'TrainingFailed') throw new MloopError(kind, tail ? `${message}\n${tail}` : message, details);
    if (kind === 'InvalidManifest' || kind === 'DatasetInvalid') throw new MloopError(kind, message, details);
    // Anything else (killed by the OS, a runtime crash) may be transient: let Temporal retry it.
    throw new Error(message);
  }
}

/** What the runtime asks of `--out`: absent, or an empty folder (the outputs replace it). */
async function assertEmptyOrMissing(dir: string): Promise<void> {
  const entries = await fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw new Error(`--out ${dir} exists and is not a folder`);
  });
  if (entries.length > 0) throw new Error(`--out ${dir} already exists and is not empty`);
}
