import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactStore } from '../artifacts/store';
import { MloopError } from '../errors';
import type { GitCheckouts } from '../git/checkout';
import { encodeInputs } from '../serving/v2-tensors';
import type { InstanceId } from './names';
import type { HaproxyProxy } from './proxy';
import type { DeploymentRuntime, Instance, RuntimeKind } from './runtime';
import { smokeRequestFor, type SmokeRequest } from './smoke';

/** A server an endpoint routes to, and the runtime's instance of it when that runs. */
export interface ServingServer {
  name: string;
  replica: number;
  instance?: Instance;
}

/** What a release is: one version's model servers for one environment of a model. */
export interface Release<Env extends string = string> {
  model: string;
  environment: Env;
  version: number;
  backend: RuntimeKind;
  /** `<model>.<environment>.v<version>`: the servers' names start with it. */
  name: string;
  /** `host:port` of each server. */
  servers: string[];
  /** The row every server must answer before the release takes traffic (from the manifest). */
  smoke: SmokeRequest;
}

export interface StartRelease<Env extends string = string> {
  model: string;
  environment: Env;
  version: { version: number; commitSha: string; repoUrl: string; repoPath: string; artifactDigest: string };
  backend: RuntimeKind;
  resources: { replicas: number; cpus: number; memoryMb: number; healthTimeoutSeconds: number };
}

export interface ServingReleasesOptions {
  proxy: HaproxyProxy;
  runtimes: Partial<Record<RuntimeKind, DeploymentRuntime>>;
  git: GitCheckouts;
  artifacts: ArtifactStore;
  /** Scratch space for checkouts while a release starts. */
  workDir: string;
  /** How long a drained server may keep its requests before they are closed (30 s). */
  drainTimeoutMs?: number;
}

const releaseName = (model: string, environment: string, version: number): string =>
  `${model}.${environment}.v${version}`;

/**
 * Releases of deployments on real servers: model servers from a runtime (processes or
 * containers), behind the deployment's stable endpoint on HAProxy. Every step is idempotent:
 * servers have deterministic names and are looked up before they are created, so a worker that
 * died in the middle of a deploy is picked up where it stopped.
 */
export class ServingReleases {
  constructor(private readonly opts: ServingReleasesOptions) {}

  private runtime(kind: RuntimeKind): DeploymentRuntime {
    const runtime = this.opts.runtimes[kind];
    if (!runtime) {
      throw new MloopError(
        'InvalidInput',
        `the ${kind} backend is not available here (start the stack with --docker for docker)`,
        {
          field: 'backend',
        },
      );
    }
    return runtime;
  }

  async start<Env extends string>(
    input: StartRelease<Env>,
    onProgress: (note: string) => void = () => {},
  ): Promise<Release<Env>> {
    const { model, environment, version: v, backend, resources } = input;
    const runtime = this.runtime(backend);
    const artifactPath = this.opts.artifacts.pathOf(v.artifactDigest);
    if (!(await this.opts.artifacts.verify(v.artifactDigest))) {
      throw new MloopError(
        'DeploymentFailed',
        `the artifact ${v.artifactDigest} of v${v.version} is missing or corrupt in the artifact store`,
      );
    }
    const scratch = path.join(this.opts.workDir, `release-${randomUUID()}`);
    const checkout = path.join(scratch, 'repo');
    await fs.mkdir(scratch, { recursive: true });
    try {
      await this.opts.git.materialize(v.repoUrl, v.commitSha, checkout);
      const modelDir = path.join(checkout, v.repoPath);
      const smoke = await smokeRequestFor(modelDir);
      const instances: Instance[] = [];
      for (let replica = 0; replica < resources.replicas; replica++) {
        onProgress(`starting replica ${replica + 1} of ${resources.replicas}`);
        instances.push(
          await runtime.ensure({
            model,
            environment,
            version: v.version,
            replica,
            sha: v.commitSha,
            artifactDigest: v.artifactDigest,
            modelDir,
            artifactPath,
            resources: { cpus: resources.cpus, memoryMb: resources.memoryMb },
            readyTimeoutMs: resources.healthTimeoutSeconds * 1000,
          }),
        );
      }
      return this.release({ model, environment }, v.version, backend, instances, smoke);
    } finally {
      await this.opts.git.release(v.repoUrl, checkout).catch(() => undefined);
      await fs.rm(scratch, { recursive: true, force: true });
    }
  }

  /** Each server answers ready, then one smoke inference from its own version. */
  async check(release: Release, timeoutSeconds: number): Promise<void> {
    const instances = await this.instancesOf(release);
    if (instances.length === 0)
      throw new MloopError('DeploymentFailed', `release ${release.name} has no running server`);
    for (const instance of instances) await this.smoke(instance, release.smoke, timeoutSeconds);
  }

  /**
   * Blue/green: the release's servers join the endpoint (no traffic), pass the proxy's health
   * check, take the traffic; then every other server drains and leaves the endpoint.
   */
  async route<Env extends string>(release: Release<Env>): Promise<{ endpoint: string; previous: Release<Env> | null }> {
    const id = { model: release.model, environment: release.environment };
    const { proxy } = this.opts;
    const endpoint = await proxy.ensureEndpoint(id);
    const instances = await this.instancesOf(release);
    const mine = new Set(instances.map((i) => i.name));
    const before = await proxy.servers(id);
    const serving = before.filter((s) => s.state === 'ready' && !mine.has(s.name));
    for (const i of instances) await proxy.addServer(id, { name: i.name, host: i.host, port: i.port });
    for (const i of instances) await proxy.waitForHealthy(id, i.name, { timeoutMs: 60_000 });
    for (const i of instances) await proxy.setServerState(id, i.name, 'ready');
    for (const s of serving) await proxy.setServerState(id, s.name, 'drain');
    for (const s of serving) await proxy.waitForDrain(id, s.name, { timeoutMs: this.opts.drainTimeoutMs ?? 30_000 });
    for (const s of serving) await proxy.setServerState(id, s.name, 'maint');
    const previousVersion = serving.map((s) => versionOf(s.name)).find((x) => x !== undefined);
    const previous =
      previousVersion === undefined ? null : await this.find(release.model, release.environment, previousVersion);
    return { endpoint: endpoint.url, previous };
  }

  /** Takes the release's servers out of the endpoint (drained first) and stops them. */
  async stop(release: Release): Promise<void> {
    const id = { model: release.model, environment: release.environment };
    const endpoint = await this.opts.proxy.getEndpoint(id);
    for (const instance of await this.instancesOf(release)) {
      if (endpoint)
        await this.opts.proxy.removeServer(id, instance.name, { drainTimeoutMs: this.opts.drainTimeoutMs ?? 30_000 });
      await this.runtime(release.backend).remove(instance);
    }
  }

  async find<Env extends string>(model: string, environment: Env, version: number): Promise<Release<Env> | null> {
    for (const [kind, runtime] of Object.entries(this.opts.runtimes) as Array<[RuntimeKind, DeploymentRuntime]>) {
      const instances = (await runtime.list({ model, environment })).filter((i) => i.version === version);
      if (instances.length > 0) return this.release({ model, environment }, version, kind, instances, noSmoke);
    }
    return null;
  }

  /**
   * The servers the environment's endpoint sends traffic to (state `ready` in the proxy), each
   * with its runtime's instance when one runs (a live pid, a running container). A server the
   * proxy routes to but no runtime runs has `instance` undefined; no endpoint gives none.
   */
  async serving(model: string, environment: string): Promise<ServingServer[]> {
    const id = { model, environment };
    if (!(await this.opts.proxy.getEndpoint(id))) return [];
    const out: ServingServer[] = [];
    for (const server of await this.opts.proxy.servers(id)) {
      const m = /\.v(\d+)\.r(\d+)$/.exec(server.name);
      if (server.state !== 'ready' || !m) continue;
      const instanceId = { model, environment, version: Number(m[1]), replica: Number(m[2]) };
      let instance: Instance | undefined;
      for (const runtime of Object.values(this.opts.runtimes)) {
        instance = await runtime.get(instanceId);
        if (instance?.name === server.name) break;
        instance = undefined;
      }
      out.push({ name: server.name, replica: instanceId.replica, ...(instance ? { instance } : {}) });
    }
    return out;
  }

  async retire(model: string, environment: string): Promise<number> {
    let stopped = 0;
    const id = { model, environment };
    const endpoint = await this.opts.proxy.getEndpoint(id);
    for (const runtime of Object.values(this.opts.runtimes)) {
      for (const instance of await runtime.list(id)) {
        if (endpoint)
          await this.opts.proxy.removeServer(id, instance.name, { drainTimeoutMs: this.opts.drainTimeoutMs ?? 30_000 });
        await runtime.remove(instance);
        stopped += 1;
      }
    }
    await this.opts.proxy.removeEndpoint(id);
    return stopped;
  }

  private release<Env extends string>(
    id: { model: string; environment: Env },
    version: number,
    backend: RuntimeKind,
    instances: Instance[],
    smoke: SmokeRequest,
  ): Release<Env> {
    return {
      smoke,
      model: id.model,
      environment: id.environment,
      version,
      backend,
      name: releaseName(id.model, id.environment, version),
      servers: instances.map((i) => `${i.host}:${i.port}`),
    };
  }

  private async instancesOf(release: Release): Promise<Instance[]> {
    const all = await this.runtime(release.backend).list({ model: release.model, environment: release.environment });
    return all.filter((i) => i.version === release.version).sort((a, b) => a.replica - b.replica);
  }

  /** One row built from the manifest's features, answered by this version: proof the server really serves. */
  private async smoke(instance: Instance & InstanceId, request: SmokeRequest, timeoutSeconds: number): Promise<void> {
    const base = `${instance.url.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(instance.model)}`;
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
      const ready = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(5000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline)
        throw new MloopError('DeploymentFailed', `${instance.name} did not get ready within ${timeoutSeconds} s`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const res = await fetch(`${base}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'mloop-smoke', inputs: encodeInputs([request.row], request.features) }),
      signal: AbortSignal.timeout(30_000),
    }).catch((err: unknown) => {
      throw new MloopError(
        'DeploymentFailed',
        `smoke inference on ${instance.name} got no answer: ${(err as Error).message}`,
      );
    });
    const text = await res.text();
    if (!res.ok) {
      throw new MloopError(
        'DeploymentFailed',
        `smoke inference on ${instance.name} failed: ${res.status} ${text.slice(0, 300)}`,
      );
    }
    const body = JSON.parse(text) as { model_version?: string; outputs?: Array<{ data?: unknown[] }> };
    if (body.model_version !== String(instance.version)) {
      throw new MloopError(
        'DeploymentFailed',
        `smoke inference on ${instance.name} was answered by version ${body.model_version}, not ${instance.version}`,
      );
    }
    if (!body.outputs?.[0]?.data || body.outputs[0].data.length !== 1) {
      throw new MloopError(
        'DeploymentFailed',
        `smoke inference on ${instance.name} gave no prediction for its one row`,
      );
    }
  }
}

/** Releases found again (to stop or retire them) are never checked, so they carry no smoke request. */
const noSmoke: SmokeRequest = { features: [], row: {} };

/** The version in a server's name (`….v<version>.r<replica>`). */
function versionOf(serverName: string): number | undefined {
  const m = /\.v(\d+)\.r\d+$/.exec(serverName);
  return m ? Number(m[1]) : undefined;
}
