import { invalidInput } from '../errors';
import type { DeploymentId, InstanceId } from './names';

export type RuntimeKind = 'process' | 'docker';

/** What one model server may use. Docker enforces all three; the process backend none (see its docs). */
export interface ResourceLimits {
  memoryMb: number;
  cpus: number;
  pids: number;
}

export const defaultResources: ResourceLimits = { memoryMb: 1024, cpus: 1, pids: 256 };

/** What to serve: a registered version's code at its commit and its artifact. */
export interface InstanceSpec extends InstanceId {
  /** The commit the version was trained at, and the digest of its registered artifact. */
  sha: string;
  artifactDigest: string;
  /** The model folder (with mloop.yaml) checked out at `sha`; the runtime keeps its own copy. */
  modelDir: string;
  /** The registered artifact file (model.joblib). */
  artifactPath: string;
  resources?: Partial<ResourceLimits>;
  /** How long to wait until the model answers ready (120 s). */
  readyTimeoutMs?: number;
}

/** A model server of a deployment, found by its deterministic name. */
export interface Instance extends InstanceId {
  name: string;
  runtime: RuntimeKind;
  sha: string;
  artifactDigest: string;
  host: string;
  port: number;
  url: string;
  /** The process id, or the container id. */
  ref: string;
}

/**
 * Where a deployment's model servers run. Every call is idempotent: instances have deterministic
 * names (`instanceName`) and are looked up before anything is created, so a retry after a crash
 * adopts what the first attempt started instead of starting a second one.
 */
export interface DeploymentRuntime {
  readonly kind: RuntimeKind;
  /**
   * Resolves once the instance answers ready: the running one of that name when it serves the
   * same commit and artifact, else a new one (replacing a stopped or different one).
   */
  ensure(spec: InstanceSpec): Promise<Instance>;
  /** The running instance of that name, if any. */
  get(id: InstanceId): Promise<Instance | undefined>;
  /** Running instances, of one deployment or of all. */
  list(filter?: Partial<DeploymentId>): Promise<Instance[]>;
  /** Stops the instance and removes it; nothing happens when there is none. */
  remove(id: InstanceId): Promise<void>;
}

const digestPattern = /^(sha256:)?[0-9a-f]{64}$/;

export function resolveResources(spec: InstanceSpec): ResourceLimits {
  const r = { ...defaultResources, ...spec.resources };
  if (!Number.isFinite(r.memoryMb) || r.memoryMb < 64 || r.memoryMb > 1024 * 1024) {
    throw invalidInput('resources.memoryMb', `${r.memoryMb} is not a memory limit between 64 and 1048576 MiB`);
  }
  if (!Number.isFinite(r.cpus) || r.cpus < 0.01 || r.cpus > 1024) {
    throw invalidInput('resources.cpus', `${r.cpus} is not a number of CPUs between 0.01 and 1024`);
  }
  if (!Number.isSafeInteger(r.pids) || r.pids < 16 || r.pids > 1_000_000) {
    throw invalidInput('resources.pids', `${r.pids} is not a process limit between 16 and 1000000`);
  }
  return r;
}

export function checkSpec(spec: InstanceSpec): void {
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(spec.sha))
    throw invalidInput('sha', `${JSON.stringify(spec.sha)} is not a commit SHA`);
  if (!digestPattern.test(spec.artifactDigest)) {
    throw invalidInput('artifactDigest', `${JSON.stringify(spec.artifactDigest)} is not a sha256 digest`);
  }
  resolveResources(spec);
}

/** `sha256:<hex>` whichever way the digest was written. */
export const normalDigest = (digest: string): string => (digest.startsWith('sha256:') ? digest : `sha256:${digest}`);
