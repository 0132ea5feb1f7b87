import fs from 'node:fs/promises';
import path from 'node:path';
import { sha256File } from '../artifacts/store';
import { invalidInput, MloopError } from '../errors';
import { executablePath, killGroup, processAlive, spawnFailure, spawnRuntime } from '../python/process-group';
import type { RunnerAccount } from '../security/runner-account';
import { KServeClient } from '../serving/kserve-client';
import { withFileLock } from './file-lock';
import { instanceName, type DeploymentId, type InstanceId } from './names';
import { checkSpec, normalDigest, type DeploymentRuntime, type Instance, type InstanceSpec } from './runtime';

export interface ProcessRuntimeOptions {
  /** $MLOOP_DATA/deployments: one folder per instance. */
  root: string;
  scope: string;
  python: string;
  runtimeDir: string;
  /**
   * The unprivileged account model servers run as when the worker is root (null: as the worker).
   * `root` must then be a folder that account can pass through.
   */
  account?: RunnerAccount | null;
  /** How long `remove` waits after SIGTERM before SIGKILL (30 s). */
  stopTimeoutMs?: number;
}

/** What an instance's folder says about it (instance.json). */
interface InstanceRecord extends InstanceId {
  name: string;
  sha: string;
  artifactDigest: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The command line of a process, or undefined when it is gone (or a zombie). */
async function commandLine(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return undefined;
    return (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** Processes whose command line has `--pid-file <file>`: servers started for that instance. */
async function serversOf(pidFile: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = await commandLine(Number(entry));
    const i = argv?.indexOf('--pid-file') ?? -1;
    if (argv && i >= 0 && argv[i + 1] === pidFile) pids.push(Number(entry));
  }
  return pids;
}

/** Folders 0755 and files 0644 (executables 0755): the account reads, only root writes. */
async function makeReadable(dir: string): Promise<void> {
  await fs.chmod(dir, 0o755);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await makeReadable(full);
    else if (entry.isFile()) await fs.chmod(full, ((await fs.stat(full)).mode & 0o111) !== 0 ? 0o755 : 0o644);
  }
}

async function copyTree(from: string, to: string): Promise<void> {
  await fs.cp(from, to, {
    recursive: true,
    filter: (src) => !['.git', '__pycache__', 'node_modules'].includes(path.basename(src)),
  });
}

/**
 * Deployment model servers as local processes (`python -m mloop_runtime serve` from the venv),
 * the embedded default. Unlike a shadow test's servers, they outlive the worker that started
 * them: production keeps serving while a worker restarts. Each instance has a folder named after
 * it with its own copy of the model code and artifact (so it never depends on a scratch
 * checkout), `instance.json`, the server's stdout (`server.out`, with the `ready` line), its
 * stderr (`server.log`) and `server.pid`, which the server writes itself before it loads
 * anything. A worker finds a running instance through the pid file, and any server started for
 * it through the `--pid-file` path on its command line, so a retry adopts it instead of starting
 * a second one. `mloop dev down` stops them through their pid files.
 *
 * Resource limits are not enforced on processes (a memory limit on the address space breaks
 * numeric libraries); the docker backend enforces them.
 */
export class ProcessRuntime implements DeploymentRuntime {
  readonly kind = 'process' as const;

  constructor(private readonly opts: ProcessRuntimeOptions) {}

  private dirOf(name: string): string {
    return path.join(this.opts.root, name);
  }

  /** In `run/`, the one folder the server may write (with `home/` and `tmp/`). */
  private pidFileOf(name: string): string {
    return path.join(this.dirOf(name), 'run', 'server.pid');
  }

  async ensure(spec: InstanceSpec): Promise<Instance> {
    checkSpec(spec);
    const name = instanceName(this.opts.scope, spec);
    const dir = this.dirOf(name);
    await fs.mkdir(this.opts.root, { recursive: true });
    return withFileLock(`${dir}.lock`, async () => {
      const record = await this.record(name);
      const running = await this.runningPid(name);
      const same = record && record.sha === spec.sha && record.artifactDigest === normalDigest(spec.artifactDigest);
      if (running !== undefined && same) return this.waitReady(name, record, running, spec.readyTimeoutMs);
      if (running !== undefined) await this.stop(name);
      if (!same) await this.prepare(name, spec);
      const pid = await this.start(name, spec);
      const started = (await this.record(name)) as InstanceRecord;
      return this.waitReady(name, started, pid, spec.readyTimeoutMs);
    });
  }

  async get(id: InstanceId): Promise<Instance | undefined> {
    const name = instanceName(this.opts.scope, id);
    const [record, pid] = [await this.record(name), await this.runningPid(name)];
    if (!record || pid === undefined) return undefined;
    const ready = await this.readyLine(name);
    return ready ? this.instance(record, pid, ready.port) : undefined;
  }

  async list(filter: Partial<DeploymentId> = {}): Promise<Instance[]> {
    const entries = await fs.readdir(this.opts.root, { withFileTypes: true }).catch(() => []);
    const found: Instance[] = [];
    for (const e of entries) {
      if (!e.isDirectory() || !e.name.startsWith(`mloop-${this.opts.scope}.`)) continue;
      const record = await this.record(e.name);
      if (!record || (filter.model && record.model !== filter.model)) continue;
      if (filter.environment && record.environment !== filter.environment) continue;
      const instance = await this.get(record);
      if (instance) found.push(instance);
    }
    return found;
  }

  async remove(id: InstanceId): Promise<void> {
    const name = instanceName(this.opts.scope, id);
    await withFileLock(`${this.dirOf(name)}.lock`, async () => {
      await this.stop(name);
      await fs.rm(this.dirOf(name), { recursive: true, force: true });
    });
  }

  private async record(name: string): Promise<InstanceRecord | undefined> {
    try {
      return JSON.parse(await fs.readFile(path.join(this.dirOf(name), 'instance.json'), 'utf8')) as InstanceRecord;
    } catch {
      return undefined;
    }
  }

  /** The pid of the instance's server, if one runs; extra servers (a crash between two starts) are stopped. */
  private async runningPid(name: string): Promise<number | undefined> {
    const pidFile = this.pidFileOf(name);
    const recorded = Number(await fs.readFile(pidFile, 'utf8').catch(() => ''));
    const pids = await serversOf(pidFile);
    const keep = pids.includes(recorded) ? recorded : pids[0];
    for (const pid of pids) if (pid !== keep) killGroup(pid, 'SIGKILL');
    return keep;
  }

  /** The instance's own copy of the model code and artifact, written under a temporary name first. */
  private async prepare(name: string, spec: InstanceSpec): Promise<void> {
    const digest = normalDigest(spec.artifactDigest);
    const actual = `sha256:${await sha256File(spec.artifactPath).catch((err: Error) => {
      throw invalidInput('artifactPath', `cannot read ${spec.artifactPath}: ${err.message}`);
    })}`;
    if (actual !== digest)
      throw invalidInput('artifactPath', `${spec.artifactPath} has digest ${actual}, not ${digest}`);
    const dir = this.dirOf(name);
    const tmp = `${dir}.tmp-${process.pid}`;
    await fs.rm(tmp, { recursive: true, force: true });
    await copyTree(spec.modelDir, path.join(tmp, 'model'));
    await fs.mkdir(path.join(tmp, 'artifact'));
    await fs.copyFile(spec.artifactPath, path.join(tmp, 'artifact', 'model.joblib'));
    // Its own copy of the runtime too: the checkout of mloop may be where the account cannot read.
    await copyTree(path.join(this.opts.runtimeDir, 'mloop_runtime'), path.join(tmp, 'runtime', 'mloop_runtime'));
    await makeReadable(tmp);
    for (const own of ['run', 'home', 'tmp']) {
      await fs.mkdir(path.join(tmp, own), { mode: 0o700 });
      if (this.opts.account) await fs.chown(path.join(tmp, own), this.opts.account.uid, this.opts.account.gid);
    }
    const { model, environment, version, replica, sha } = spec;
    const record: InstanceRecord = { name, model, environment, version, replica, sha, artifactDigest: digest };
    await fs.writeFile(path.join(tmp, 'instance.json'), JSON.stringify(record, null, 2) + '\n');
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rename(tmp, dir);
  }

  private async start(name: string, spec: InstanceSpec): Promise<number> {
    const dir = this.dirOf(name);
    const out = await fs.open(path.join(dir, 'server.out'), 'w');
    const err = await fs.open(path.join(dir, 'server.log'), 'a');
    try {
      const args = ['serve', '--model-dir', path.join(dir, 'model')];
      args.push('--artifact', path.join(dir, 'artifact', 'model.joblib'));
      args.push('--model-name', spec.model, '--model-version', String(spec.version));
      args.push('--host', '127.0.0.1', '--port', '0', '--pid-file', this.pidFileOf(name));
      // Its own session and files for output: nothing ties it to this process any more.
      const child = spawnRuntime({
        python: await executablePath(this.opts.python),
        args,
        cwd: path.join(dir, 'model'),
        env: { pythonPath: path.join(dir, 'runtime'), home: path.join(dir, 'home'), tmp: path.join(dir, 'tmp') },
        account: this.opts.account ?? null,
        output: { stdout: out.fd, stderr: err.fd },
      });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid ?? -1));
        child.once('error', (e) => reject(spawnFailure(this.opts.python, e)));
      });
      child.unref();
      return pid;
    } finally {
      await out.close();
      await err.close();
    }
  }

  private async readyLine(name: string): Promise<{ port: number } | undefined> {
    const text = await fs.readFile(path.join(this.dirOf(name), 'server.out'), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      try {
        const ev = JSON.parse(line) as { event?: string; port?: unknown };
        if (ev.event === 'ready' && typeof ev.port === 'number') return { port: ev.port };
      } catch {
        /* not a protocol line */
      }
    }
    return undefined;
  }

  private async failure(name: string, pid: number, why: string): Promise<MloopError> {
    const dir = this.dirOf(name);
    const out = await fs.readFile(path.join(dir, 'server.out'), 'utf8').catch(() => '');
    const log = await fs.readFile(path.join(dir, 'server.log'), 'utf8').catch(() => '');
    let message = '';
    for (const line of out.split('\n')) {
      try {
        const ev = JSON.parse(line) as { event?: string; message?: string };
        if (ev.event === 'error' && ev.message) message = ev.message;
      } catch {
        /* not a protocol line */
      }
    }
    const tail = log.trim().split('\n').slice(-20).join('\n');
    const text = `model server ${name} (pid ${pid}) ${why}${message ? `: ${message}` : ''}${tail ? `\n${tail}` : ''}`;
    return new MloopError('DeploymentFailed', text, { instance: name, log: path.join(dir, 'server.log') });
  }

  private async waitReady(name: string, record: InstanceRecord, pid: number, timeoutMs = 120_000): Promise<Instance> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ready = await this.readyLine(name);
      if (ready) {
        const client = new KServeClient(`http://127.0.0.1:${ready.port}`, record.model);
        if (await client.ready()) return this.instance(record, pid, ready.port);
      }
      if (!processAlive(pid) || !(await commandLine(pid)))
        throw await this.failure(name, pid, 'exited before it was ready');
      if (Date.now() > deadline) {
        await this.stop(name);
        throw await this.failure(name, pid, `did not answer ready within ${timeoutMs / 1000} s and was stopped`);
      }
      await sleep(200);
    }
  }

  private instance(record: InstanceRecord, pid: number, port: number): Instance {
    const { name, model, environment, version, replica, sha, artifactDigest } = record;
    const url = `http://127.0.0.1:${port}`;
    return {
      name,
      model,
      environment,
      version,
      replica,
      sha,
      artifactDigest,
      runtime: 'process',
      host: '127.0.0.1',
      port,
      url,
      ref: String(pid),
    };
  }

  /** SIGTERM to the server's process group (it finishes its requests), SIGKILL after the timeout. */
  private async stop(name: string): Promise<void> {
    const pidFile = this.pidFileOf(name);
    const pids = await serversOf(pidFile);
    for (const pid of pids) killGroup(pid, 'SIGTERM');
    const deadline = Date.now() + (this.opts.stopTimeoutMs ?? 30_000);
    while (pids.some((p) => processAlive(p)) && (await Promise.all(pids.map(commandLine))).some(Boolean)) {
      if (Date.now() > deadline) {
        for (const pid of pids) killGroup(pid, 'SIGKILL');
        break;
      }
      await sleep(100);
    }
    for (const pid of pids) killGroup(pid, 'SIGKILL'); // what the model's code spawned goes too
    await fs.rm(pidFile, { force: true });
  }
}
