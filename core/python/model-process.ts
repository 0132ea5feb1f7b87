import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { constants as fsConstants, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MloopError } from '../errors';
import { executablePath, processAlive, spawnRuntime } from './process-group';
import { runnerAccount, runnerSubdir, type RunnerAccount } from '../security/runner-account';

/**
 * The one way the worker starts a process that runs model code (`python -m mloop_runtime train`,
 * `evaluate`, `drift`, `serve`; spawned by process-group.ts): in its own process group, with an
 * allow-listed environment, and, when the worker is root, as the unprivileged runner account
 * (core/security/runner-account.ts).
 *
 * Each process gets a sandbox folder of its own: its HOME, TMPDIR and output folder. What it
 * must read (the runtime, the model's folder, input files) is used in place when the runner
 * account can read it there, and otherwise staged into the sandbox: files hard-linked when
 * they are world-readable and not world-writable, else copied. Outputs are copied back by the
 * worker without following links, and the sandbox is removed with the runner's own rights.
 */

export interface ModelProcessOptions {
  python: string;
  runtimeDir: string;
  /** The account model code runs as when the worker is root (default `mloop-runner`). */
  runnerUser?: string;
  modelDir: string;
  /** Files the process reads, by name (`dataset`, `artifact`). */
  inputs?: Record<string, string>;
  /** `mloop_runtime` arguments, given the paths as the process sees them. */
  args: (paths: ModelProcessPaths) => string[];
}

export interface ModelProcessPaths {
  modelDir: string;
  inputs: Record<string, string>;
  /** A folder the process may create and write (absent until it does). */
  outDir: string;
}

export interface ModelProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  paths: ModelProcessPaths;
  /** The account it runs as, or null when it runs as the worker. */
  account: RunnerAccount | null;
  /** Puts the caller's paths back in place of staged ones, for messages. */
  describe(text: string): string;
  /**
   * Copies the regular files of the output folder into `dest`, which appears only when all are
   * copied and `required` are among them.
   */
  collectOutput(dest: string, required: string[]): Promise<void>;
  /** Removes the sandbox once the process has exited; idempotent, never throws. */
  dispose(): Promise<void>;
}

const defaultRunner = 'mloop-runner';

export async function startModelProcess(opts: ModelProcessOptions): Promise<ModelProcess> {
  const account = await runnerAccount(opts.runnerUser ?? defaultRunner);
  const sandbox = await createSandbox(account);
  try {
    const staged = new Map<string, string>(); // staged path -> the caller's path
    const python = await executablePath(opts.python);
    const unreadable = account
      ? await unreadableBy(account, [
          [python, 'x'],
          [opts.runtimeDir, 'rx'],
          [opts.modelDir, 'rx'],
          ...Object.values(opts.inputs ?? {}).map((p): [string, Need] => [p, 'r']),
        ])
      : new Set<string>();
    if (account && unreadable.has(python)) {
      throw new MloopError(
        'ToolchainMissing',
        `the Python runtime ${opts.python} cannot be run by the unprivileged user "${account.name}" (a folder on ` +
          'its path is closed to that user, e.g. a home of mode 0700); scripts/setup.sh creates the venv where ' +
          'that user can reach it (/var/cache/mloop/venvs), or set MLOOP_PYTHON',
      );
    }
    // A path the runner cannot reach is staged; one that does not exist at all is given as a
    // path in the sandbox that does not exist either, so the runtime reports it as missing.
    const stageDir = async (src: string, name: string, sub = ''): Promise<string> => {
      if (!unreadable.has(src)) return src;
      const staging = path.join(sandbox.dir, name);
      staged.set(staging, src);
      if (!(await exists(src))) return staging;
      const copy = { recursive: true, verbatimSymlinks: true, filter: notCache };
      await fs.cp(path.join(src, sub), path.join(staging, sub), copy);
      if (account) await chownTree(staging, account);
      return staging;
    };
    const runtimePath = await stageDir(opts.runtimeDir, 'runtime', 'mloop_runtime');
    const modelDir = await stageDir(opts.modelDir, 'model');
    const inputs: Record<string, string> = {};
    for (const [name, file] of Object.entries(opts.inputs ?? {})) {
      if (!unreadable.has(file)) {
        inputs[name] = file;
        continue;
      }
      inputs[name] = (await exists(file))
        ? await stageFile(file, sandbox.dir, name, account)
        : path.join(sandbox.dir, 'inputs', name, path.basename(file));
      staged.set(inputs[name], file);
    }
    const paths: ModelProcessPaths = { modelDir, inputs, outDir: path.join(sandbox.dir, 'out') };

    const child = spawnRuntime({
      python,
      args: opts.args(paths),
      // A model folder that does not exist is the runtime's to report, not a failed spawn.
      cwd: (await exists(modelDir)) ? modelDir : sandbox.dir,
      env: { pythonPath: runtimePath, home: sandbox.home, tmp: sandbox.tmp },
      account,
      output: 'pipe',
    });
    // Callers attach their own handlers; this one only keeps a failed spawn from going unhandled.
    child.on('error', () => undefined);
    const replacements = [...staged.entries()].sort(([a], [b]) => b.length - a.length);
    return {
      child,
      paths,
      account,
      describe: (text) => replacements.reduce((t, [from, to]) => t.split(from).join(to), text),
      collectOutput: (dest, required) => collectOutput(paths.outDir, dest, required, sandbox),
      dispose: sandbox.dispose,
    };
  } catch (err) {
    await sandbox.dispose();
    throw err;
  }
}

interface Sandbox {
  dir: string;
  home: string;
  tmp: string;
  account: RunnerAccount | null;
  /** Where outputs are moved before they are read: a folder the runner cannot write. */
  quarantine: string;
  dispose(): Promise<void>;
}

async function createSandbox(account: RunnerAccount | null): Promise<Sandbox> {
  let dir: string;
  let quarantine: string;
  if (account) {
    const base = await runnerSubdir(account, 'sandboxes');
    await sweepOrphans(base, account);
    // Named after this worker, so that another can tell when it died and sweep up after it.
    const id = `${process.pid}-${randomUUID()}`;
    dir = path.join(base, id);
    quarantine = path.join(base, `${id}.out`);
    await fs.mkdir(dir, { mode: 0o700 });
  } else {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mloop-run-'));
    quarantine = path.join(dir, 'collected');
  }
  const home = path.join(dir, 'home');
  const tmp = path.join(dir, 'tmp');
  await fs.mkdir(home);
  await fs.mkdir(tmp);
  if (account) for (const d of [dir, home, tmp]) await fs.chown(d, account.uid, account.gid);

  let disposing: Promise<void> | undefined;
  const dispose = (): Promise<void> =>
    (disposing ??= account
      ? removeAsRunner(account, [dir, quarantine])
      : fs.rm(dir, { recursive: true, force: true }).catch(() => undefined));
  return { dir, home, tmp, account, quarantine, dispose };
}

/**
 * Everything below these folders belongs to the runner, so it deletes it itself: a link it
 * planted can never make root delete something else. Root then removes the emptied folders.
 */
async function removeAsRunner(account: RunnerAccount, dirs: string[]): Promise<void> {
  const present = [];
  for (const d of dirs) if (await exists(d)) present.push(d);
  if (present.length === 0) return;
  await runAs(account, 'find', [...present, '-mindepth', '1', '-delete']).catch(() => undefined);
  for (const d of present) await fs.rmdir(d).catch(() => undefined);
}

/** Sandboxes of workers that died (SIGKILL, a crash) without removing them. */
async function sweepOrphans(base: string, account: RunnerAccount): Promise<void> {
  const dead = new Set<string>();
  for (const name of await fs.readdir(base).catch(() => [])) {
    const pid = /^(\d+)-[0-9a-f-]+(\.out)?$/.exec(name)?.[1];
    if (pid !== undefined && !processAlive(Number(pid))) dead.add(name);
  }
  if (dead.size > 0) await removeAsRunner(account, [...dead].map((name) => path.join(base, name)));
}

type Need = 'r' | 'rx' | 'x';

/**
 * Which paths the runner account cannot use as needed, asked of the kernel as that account
 * (`test -r/-x`), so ACLs and every folder on the way count.
 */
async function unreadableBy(account: RunnerAccount, checks: Array<[string, Need]>): Promise<Set<string>> {
  const script =
    'while [ "$#" -gt 1 ]; do ok=1; ' +
    'case "$1" in *r*) [ -r "$2" ] || ok=0;; esac; case "$1" in *x*) [ -x "$2" ] || ok=0;; esac; ' +
    '[ "$ok" = 1 ] || printf "%s\\0" "$2"; shift 2; done';
  const out = await runAs(account, '/bin/sh', ['-c', script, 'sh', ...checks.flatMap(([p, need]) => [need, p])]);
  return new Set(out.split('\0').filter(Boolean));
}

function runAs(account: RunnerAccount, command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      uid: account.uid,
      gid: account.gid,
      cwd: '/',
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.once('error', (err) =>
      reject(new MloopError('ToolchainMissing', `cannot run ${command} as ${account.name}: ${err.message}`)),
    );
    child.once('close', () => resolve(out));
  });
}

async function stageFile(
  file: string,
  sandboxDir: string,
  name: string,
  account: RunnerAccount | null,
): Promise<string> {
  const dir = path.join(sandboxDir, 'inputs', name);
  await fs.mkdir(dir, { recursive: true });
  if (account) {
    await fs.chown(path.join(sandboxDir, 'inputs'), account.uid, account.gid);
    await fs.chown(dir, account.uid, account.gid);
  }
  const real = await fs.realpath(file);
  const dest = path.join(dir, path.basename(file));
  const { mode } = await fs.stat(real);
  // A link shares the file: only when everyone may read it and no one else may change it.
  if ((mode & 0o006) === 0o004) {
    try {
      await fs.link(real, dest);
      return dest;
    } catch {
      /* another filesystem, or links refused: copy */
    }
  }
  await fs.copyFile(real, dest, fsConstants.COPYFILE_FICLONE);
  await fs.chmod(dest, 0o444);
  return dest;
}

async function collectOutput(outDir: string, dest: string, required: string[], sandbox: Sandbox): Promise<void> {
  let from = outDir;
  if (sandbox.account) {
    // Out of the runner's reach first: below a root-owned folder it cannot swap for a link.
    await fs.rename(outDir, sandbox.quarantine);
    from = sandbox.quarantine;
  }
  const st = await fs.lstat(from);
  if (!st.isDirectory()) throw new Error(`the model process left no output folder (${outDir} is not a folder)`);
  const partial = `${dest}.partial-${randomUUID()}`;
  await fs.mkdir(partial, { recursive: true });
  const names: string[] = [];
  try {
    for (const entry of await fs.readdir(from, { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      // O_NOFOLLOW: a link in place of an output would make the worker copy whatever it names.
      const handle = await fs.open(path.join(from, entry.name), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
      try {
        if (!(await handle.stat()).isFile()) continue;
        const copy = createWriteStream(path.join(partial, entry.name));
        await pipeline(handle.createReadStream({ autoClose: false }), copy);
        names.push(entry.name);
      } finally {
        await handle.close();
      }
    }
    const absent = required.filter((name) => !names.includes(name));
    if (absent.length > 0) {
      throw new Error(`the model process did not write ${absent.map((n) => JSON.stringify(n)).join(', ')} as a file`);
    }
    await fs.rename(partial, dest);
  } catch (err) {
    await fs.rm(partial, { recursive: true, force: true });
    throw err;
  }
}

async function chownTree(dir: string, account: RunnerAccount): Promise<void> {
  await fs.lchown(dir, account.uid, account.gid);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(full, account);
    else await fs.lchown(full, account.uid, account.gid);
  }
}

const notCache = (src: string): boolean => !['.git', '__pycache__'].includes(path.basename(src));
const exists = (p: string): Promise<boolean> => fs.lstat(p).then(() => true, () => false);
