import type Docker from 'dockerode';
import { MloopError } from '../errors';
import { KServeClient } from '../serving/kserve-client';
import { imagePaths, imageUser, labelKeys, type ModelImageBuilder } from './model-image';
import { instanceName, type DeploymentId, type InstanceId } from './names';
import { freePort } from './ports';
import {
  checkSpec,
  normalDigest,
  resolveResources,
  type DeploymentRuntime,
  type Instance,
  type InstanceSpec,
} from './runtime';

export interface DockerRuntimeOptions {
  docker: Docker;
  images: ModelImageBuilder;
  scope: string;
  /** How long a stop waits for the server to finish its requests before SIGKILL (30 s). */
  stopTimeoutS?: number;
}

/** Container labels beyond the image's: which deployment slot a container is. */
const slotLabels = {
  scope: 'io.mloop.scope',
  instance: 'io.mloop.instance',
  environment: 'io.mloop.environment',
  replica: 'io.mloop.replica',
  port: 'io.mloop.port',
} as const;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const statusOf = (err: unknown): number | undefined => (err as { statusCode?: number }).statusCode;

/**
 * Deployment model servers as Docker containers (dockerode). One container per instance, named
 * by `instanceName` and labelled with model, version, commit, artifact digest and slot; it is
 * looked up by that name before anything is created, and a concurrent create of the same name
 * loses with a 409 and adopts the winner, so retries never make a second container.
 *
 * Containers are hardened: an unprivileged user, a read-only root file system with a small
 * tmpfs /tmp, every capability dropped, no-new-privileges, memory (no swap), CPU and pids
 * limits, no mounts at all (so never the Docker socket). They use the host's network (dockerd
 * runs with --bridge=none here) and listen on 127.0.0.1 at a port mloop picks; the proxy
 * reaches them there.
 */
export class DockerRuntime implements DeploymentRuntime {
  readonly kind = 'docker' as const;

  private readonly pending = new Map<string, Promise<Instance>>();

  constructor(private readonly opts: DockerRuntimeOptions) {}

  async ensure(spec: InstanceSpec): Promise<Instance> {
    checkSpec(spec);
    const name = instanceName(this.opts.scope, spec);
    // Calls of this process for one instance take turns; other processes meet a 409 instead.
    const previous = this.pending.get(name) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.ensureNow(name, spec));
    this.pending.set(name, run);
    void run.finally(() => this.pending.get(name) === run && this.pending.delete(name)).catch(() => undefined);
    return run;
  }

  private async ensureNow(name: string, spec: InstanceSpec): Promise<Instance> {
    const digest = normalDigest(spec.artifactDigest);
    for (let attempt = 1; ; attempt++) {
      const found = await this.inspect(name);
      const labels = found?.Config.Labels ?? {};
      const same = labels[labelKeys.sha] === spec.sha && labels[labelKeys.artifactDigest] === digest;
      if (found && same && (found.State.Running || found.State.Status === 'created')) {
        // Running, or created by an attempt that died (or runs elsewhere) before starting it.
        if (!found.State.Running) await this.startContainer(name);
        return this.waitReady(name, spec.readyTimeoutMs);
      }
      if (found) await this.removeContainer(name);
      try {
        await this.create(name, spec);
      } catch (err) {
        // Another process is creating it (the name is taken before the container can be
        // inspected, which takes seconds with vfs): adopt that one once it is there.
        if (statusOf(err) === 409 && attempt < 3 && (await this.appears(name))) continue;
        throw err;
      }
      try {
        return await this.waitReady(name, spec.readyTimeoutMs);
      } catch (err) {
        // The port mloop picked was taken meanwhile: one more try on another port.
        if (attempt < 2 && err instanceof MloopError && /cannot listen on/.test(err.message)) continue;
        throw err;
      }
    }
  }

  private async appears(name: string, timeoutMs = 5 * 60_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await this.inspect(name)) return true;
      await sleep(250);
    }
    return false;
  }

  private async startContainer(name: string): Promise<void> {
    try {
      await this.opts.docker.getContainer(name).start();
    } catch (err) {
      if (statusOf(err) !== 304) throw err; // 304: started by someone else meanwhile
    }
  }

  async get(id: InstanceId): Promise<Instance | undefined> {
    const found = await this.inspect(instanceName(this.opts.scope, id));
    return found?.State.Running ? this.instance(found) : undefined;
  }

  async list(filter: Partial<DeploymentId> = {}): Promise<Instance[]> {
    const label = [`${slotLabels.scope}=${this.opts.scope}`];
    if (filter.model) label.push(`${labelKeys.model}=${filter.model}`);
    if (filter.environment) label.push(`${slotLabels.environment}=${filter.environment}`);
    const containers = await this.opts.docker.listContainers({ filters: { label } });
    const found: Instance[] = [];
    for (const c of containers) {
      const info = await this.inspect(c.Id);
      if (info?.State.Running) found.push(this.instance(info));
    }
    return found;
  }

  async remove(id: InstanceId): Promise<void> {
    await this.removeContainer(instanceName(this.opts.scope, id));
  }

  private async inspect(nameOrId: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await this.opts.docker.getContainer(nameOrId).inspect();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  private async create(name: string, spec: InstanceSpec): Promise<void> {
    const image = await this.opts.images.ensureModelImage(spec);
    const limits = resolveResources(spec);
    const port = await freePort();
    const memory = Math.round(limits.memoryMb * 1024 * 1024);
    const container = await this.opts.docker.createContainer({
      name,
      Image: image.tag,
      User: imageUser,
      WorkingDir: imagePaths.model,
      Cmd: [
        ...[imagePaths.python, '-m', 'mloop_runtime', 'serve', '--model-dir', imagePaths.model],
        ...['--artifact', imagePaths.artifact, '--model-name', spec.model, '--model-version', String(spec.version)],
        ...['--host', '127.0.0.1', '--port', String(port)],
      ],
      Env: [
        `PYTHONPATH=${imagePaths.runtime}`,
        'PYTHONUNBUFFERED=1',
        'PYTHONDONTWRITEBYTECODE=1',
        'PYTHONHASHSEED=0',
        'HOME=/tmp',
      ],
      Labels: {
        [labelKeys.model]: spec.model,
        [labelKeys.version]: String(spec.version),
        [labelKeys.sha]: spec.sha,
        [labelKeys.artifactDigest]: normalDigest(spec.artifactDigest),
        [slotLabels.scope]: this.opts.scope,
        [slotLabels.instance]: name,
        [slotLabels.environment]: spec.environment,
        [slotLabels.replica]: String(spec.replica),
        [slotLabels.port]: String(port),
      },
      StopSignal: 'SIGTERM',
      StopTimeout: this.opts.stopTimeoutS ?? 30,
      HostConfig: {
        NetworkMode: 'host',
        ReadonlyRootfs: true,
        Tmpfs: { '/tmp': 'rw,noexec,nosuid,nodev,size=64m' },
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Memory: memory,
        MemorySwap: memory,
        NanoCpus: Math.round(limits.cpus * 1e9),
        PidsLimit: limits.pids,
        Init: true,
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      },
    });
    await container.start().catch((err: unknown) => {
      if (statusOf(err) !== 304) throw err;
    });
  }

  private instance(info: Docker.ContainerInspectInfo): Instance {
    const l = info.Config.Labels;
    const port = Number(l[slotLabels.port]);
    return {
      name: l[slotLabels.instance] ?? info.Name.replace(/^\//, ''),
      model: l[labelKeys.model] ?? '',
      environment: l[slotLabels.environment] ?? '',
      version: Number(l[labelKeys.version]),
      replica: Number(l[slotLabels.replica]),
      sha: l[labelKeys.sha] ?? '',
      artifactDigest: l[labelKeys.artifactDigest] ?? '',
      runtime: 'docker',
      host: '127.0.0.1',
      port,
      url: `http://127.0.0.1:${port}`,
      ref: info.Id,
    };
  }

  private async logTail(name: string): Promise<string> {
    try {
      const buf = (await this.opts.docker
        .getContainer(name)
        .logs({ stdout: true, stderr: true, tail: 30 })) as unknown as Buffer;
      // Multiplexed frames: an 8-byte header before each chunk.
      const lines: string[] = [];
      for (let i = 0; i + 8 <= buf.length;) {
        const size = buf.readUInt32BE(i + 4);
        lines.push(buf.subarray(i + 8, i + 8 + size).toString('utf8'));
        i += 8 + size;
      }
      return lines.join('').trim();
    } catch {
      return '';
    }
  }

  private async waitReady(name: string, timeoutMs = 120_000): Promise<Instance> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await this.inspect(name);
      if (!info) throw new Error(`container ${name} disappeared while it was starting`);
      const instance = this.instance(info);
      if (info.State.Running && (await new KServeClient(instance.url, instance.model).ready())) return instance;
      // A restart while starting is a crash too (the restart policy is for later ones).
      const exited = (!info.State.Running && info.State.Status !== 'created') || info.RestartCount > 0;
      if (exited || Date.now() > deadline) {
        const logs = await this.logTail(name);
        const why = exited
          ? `exited with code ${info.State.ExitCode}`
          : `did not answer ready within ${timeoutMs / 1000} s`;
        await this.removeContainer(name);
        throw new MloopError(
          'DeploymentFailed',
          `container ${name} ${why} and was removed${logs ? `:\n${logs}` : ''}`,
          { instance: name },
        );
      }
      await sleep(250);
    }
  }

  private async removeContainer(name: string): Promise<void> {
    const container = this.opts.docker.getContainer(name);
    try {
      await container.stop({ t: this.opts.stopTimeoutS ?? 30 });
    } catch (err) {
      if (statusOf(err) === 404) return;
      if (statusOf(err) !== 304) throw err; // 304: not running
    }
    try {
      await container.remove({ force: true });
    } catch (err) {
      if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err; // 409: removal already in progress
    }
  }
}
