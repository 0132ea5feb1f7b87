import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { MloopError } from '../errors';
import { modelProcessEnv, type ModelEnvPaths } from '../security/model-env';
import type { RunnerAccount } from '../security/runner-account';

/**
 * Starting `python -m mloop_runtime …` and signalling what it became. Every Python process of
 * mloop comes from `spawnRuntime`: the worker's own (train, evaluate, drift, serve; through
 * model-process.ts, supervised by runtime.ts and serving/model-server.ts) and the model servers
 * of the process deploy runtime, which outlive the worker (deploy/process-runtime.ts).
 */
export interface RuntimeSpawnOptions {
  /** The interpreter, as `executablePath` resolves it. */
  python: string;
  /** `mloop_runtime` arguments (`train …`, `serve …`). */
  args: string[];
  cwd: string;
  /** Folders for the allow-listed environment (core/security/model-env.ts). */
  env: ModelEnvPaths;
  /** The unprivileged account it runs as, or null to run as the worker. */
  account: RunnerAccount | null;
}

/**
 * Spawns the runtime in a process group of its own (it leads it), so `killGroup` also ends what
 * the model's code spawned. `output: 'pipe'` gives its stdout and stderr to the caller; open
 * files instead leave nothing tying it to the worker, which may exit while it runs.
 */
export function spawnRuntime(
  o: RuntimeSpawnOptions & { output: 'pipe' },
): ChildProcessByStdio<null, Readable, Readable>;
export function spawnRuntime(o: RuntimeSpawnOptions & { output: { stdout: number; stderr: number } }): ChildProcess;
export function spawnRuntime(
  o: RuntimeSpawnOptions & { output: 'pipe' | { stdout: number; stderr: number } },
): ChildProcess {
  return spawn(o.python, ['-m', 'mloop_runtime', ...o.args], {
    cwd: o.cwd,
    env: modelProcessEnv(process.env, o.env),
    stdio: o.output === 'pipe' ? ['ignore', 'pipe', 'pipe'] : ['ignore', o.output.stdout, o.output.stderr],
    detached: true,
    ...(o.account ? { uid: o.account.uid, gid: o.account.gid } : {}),
  });
}

/** The error for a runtime that could not be spawned at all (`python` as the user configured it). */
export function spawnFailure(python: string, err: Error): MloopError {
  return new MloopError('ToolchainMissing', `cannot run ${python}: ${err.message}`);
}

/** Signals a process group by its leader's pid; a group that is gone (or was never spawned) is ignored. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    /* the group is gone */
  }
}

/** Whether a process exists (one of another account's counts: signalling it is refused, not failed). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The venv's interpreter by a path without symlinked folders: `~/.cache/mloop/venv` is a link,
 * and the runner may not pass through the worker's home to follow it. The file itself stays a
 * link, so Python still finds its venv next to it.
 */
export async function executablePath(python: string): Promise<string> {
  const dir = await fs.realpath(path.dirname(python)).catch(() => undefined);
  return dir ? path.join(dir, path.basename(python)) : python;
}

/**
 * Keeps the last `max` lines of a process's output (its stderr, for the message when it fails),
 * each passed through `map` (e.g. staged paths put back) and handed to `onLine` as it comes.
 */
export function lineTail(
  stream: Readable,
  {
    max = 40,
    map = (line) => line,
    onLine,
  }: { max?: number; map?: (line: string) => string; onLine?: (line: string) => void },
): () => string {
  const lines: string[] = [];
  createInterface({ input: stream }).on('line', (raw) => {
    const line = map(raw);
    lines.push(line);
    if (lines.length > max) lines.shift();
    onLine?.(line);
  });
  return () => lines.join('\n');
}
