import { createInterface } from 'node:readline';
import { MloopError, type ErrorCode } from '../errors';
import { startModelProcess } from '../python/model-process';
import { killGroup, lineTail, spawnFailure } from '../python/process-group';

export interface ModelServerOptions {
  python: string;
  runtimeDir: string;
  /** The account model code runs as when the worker is root (default `mloop-runner`). */
  runnerUser?: string;
  modelDir: string;
  artifact: string;
  modelName: string;
  modelVersion: string;
  host?: string;
  /** How long to wait for the `ready` line (60 s). */
  readyTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL (10 s). */
  stopTimeoutMs?: number;
  /** Cancels startup (the process is killed); after `ready`, use `stop()`. */
  signal?: AbortSignal;
  /** Each line the server writes to stderr (its diagnostics and the model's output). */
  onStderr?: (line: string) => void;
}

export interface RunningModelServer {
  url: string;
  host: string;
  port: number;
  pid: number;
  /** SIGTERM to the process group, SIGKILL after 10 s; resolves once the server has exited. Idempotent. */
  stop(): Promise<void>;
}

// Startup failures the runtime reports with its exit codes (see python/README.md).
const exitCodeKinds: Record<number, ErrorCode> = { 2: 'InvalidManifest', 4: 'TrainingFailed' };

/**
 * Starts `python -m mloop_runtime serve` for one artifact on a free port and resolves when the
 * server announces where it listens. The server starts through `startModelProcess` (its own
 * process group, an unprivileged account when the worker is root), so `stop()` also ends
 * anything the model's code spawned.
 */
export async function startModelServer(opts: ModelServerOptions): Promise<RunningModelServer> {
  const host = opts.host ?? '127.0.0.1';
  if (opts.signal?.aborted) throw new Error('cancelled before the model server started');
  const proc = await startModelProcess({
    python: opts.python,
    runtimeDir: opts.runtimeDir,
    ...(opts.runnerUser ? { runnerUser: opts.runnerUser } : {}),
    modelDir: opts.modelDir,
    inputs: { artifact: opts.artifact },
    args: (p) => [
      ...['serve', '--model-dir', p.modelDir, '--artifact', p.inputs.artifact ?? opts.artifact],
      ...['--model-name', opts.modelName, '--model-version', opts.modelVersion, '--host', host, '--port', '0'],
    ],
  });
  const { child, describe } = proc;

  const stderrTail = lineTail(child.stderr, {
    max: 40,
    map: describe,
    ...(opts.onStderr ? { onLine: opts.onStderr } : {}),
  });
  // A process that could not be spawned reports 'error' and maybe never 'exit'.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const signalGroup = (signal: NodeJS.Signals): void => killGroup(child.pid, signal);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (child.pid !== undefined && alive()) {
        signalGroup('SIGTERM');
        const timer = setTimeout(() => signalGroup('SIGKILL'), opts.stopTimeoutMs ?? 10_000);
        await exited;
        clearTimeout(timer);
      } else {
        await exited;
      }
      // Children of the model's code may outlive the server; they share its group.
      signalGroup('SIGKILL');
      await proc.dispose();
    })());

  return new Promise<RunningModelServer>((resolve, reject) => {
    let settled = false;
    let failure: Record<string, unknown> | undefined;
    const tail = (): string => stderrTail().trim().slice(-2000);
    const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      const stderr = tail();
      fail(
        new Error(
          `the model server did not report ready within ${readyTimeoutMs / 1000} s${stderr ? `:\n${stderr}` : ''}`,
        ),
      );
    }, readyTimeoutMs);
    const onAbort = (): void => fail(new Error('cancelled: the model server was stopped before it was ready'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    // Aborted while the sandbox was being prepared: no 'abort' event will come any more.
    if (opts.signal?.aborted) queueMicrotask(onAbort);
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      return true;
    };
    function fail(err: Error): void {
      // Never leave a half-started server behind.
      if (settle())
        void stop().then(
          () => reject(err),
          () => reject(err),
        );
    }

    // Read stdout to the end even after `ready`, so the server never blocks on a full pipe.
    createInterface({ input: child.stdout }).on('line', (line) => {
      let ev: Record<string, unknown>;
      try {
        ev = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (ev.event === 'error') failure = ev;
      if (ev.event !== 'ready' || settled) return;
      const port = ev.port;
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
        fail(new Error(`the model server reported an unusable port: ${line}`));
        return;
      }
      settle();
      const listening = typeof ev.host === 'string' && ev.host !== '' ? ev.host : host;
      const urlHost = listening.includes(':') ? `[${listening}]` : listening;
      resolve({ url: `http://${urlHost}:${port}`, host: listening, port, pid: child.pid ?? -1, stop });
    });

    child.once('error', (err) => fail(spawnFailure(opts.python, err)));
    // 'close' rather than 'exit': by then stderr has been read to the end.
    child.once('close', (code, signal) => {
      const how = code !== null ? `exited with code ${code}` : `was killed by ${signal}`;
      const kind = (code !== null && exitCodeKinds[code]) || undefined;
      const message =
        typeof failure?.message === 'string'
          ? describe(failure.message)
          : `the model server ${how} before it was ready`;
      const detail = tail() ? `${message}\n${tail()}` : message;
      // A manifest or artifact that cannot load will not load on a retry either.
      fail(kind ? new MloopError(kind, detail, { exitCode: code }) : new Error(detail));
    });
  });
}
