import type { ReleaseManager, StartReleaseInput } from '../../activities/deploy';
import { MloopError } from '../../core/errors';
import type { Environment, ReleaseRef } from '../../workflows/definitions';

/**
 * A release manager that keeps releases in memory: for tests of the deploy workflow's decisions
 * (approvals, timeouts, rollbacks), where the servers behind a release do not matter. The real
 * managers are covered by their own integration tests against the proxy and the runtimes.
 */
export class RecordingReleases implements ReleaseManager {
  readonly running = new Map<string, ReleaseRef>();
  readonly routed = new Map<string, ReleaseRef>();
  readonly log: string[] = [];
  /** Versions whose check fails, as a bad smoke inference would. */
  readonly failingChecks = new Set<number>();
  starts = 0;

  async start(input: StartReleaseInput): Promise<ReleaseRef> {
    const name = `${input.model}-${input.environment}-v${input.version.version}`;
    const existing = this.running.get(name);
    if (existing) return existing;
    this.starts += 1;
    const release: ReleaseRef = {
      model: input.model,
      environment: input.environment,
      version: input.version.version,
      backend: input.backend,
      name,
      servers: [`127.0.0.1:${20000 + this.starts}`],
      smoke: { features: [], row: {} },
    };
    this.running.set(name, release);
    this.log.push(`start ${name}`);
    return release;
  }

  async check(release: ReleaseRef): Promise<void> {
    this.log.push(`check ${release.name}`);
    if (this.failingChecks.has(release.version)) {
      throw new MloopError('DeploymentFailed', `smoke inference on ${release.name} failed: the model raised an error`);
    }
  }

  async route(release: ReleaseRef): Promise<{ endpoint: string; previous: ReleaseRef | null }> {
    const key = `${release.model}/${release.environment}`;
    const previous = this.routed.get(key) ?? null;
    this.routed.set(key, release);
    this.log.push(`route ${key} -> ${release.name}`);
    return { endpoint: `http://127.0.0.1:1${release.environment === 'production' ? 8000 : 8001}`, previous };
  }

  async stop(release: ReleaseRef): Promise<void> {
    this.running.delete(release.name);
    const key = `${release.model}/${release.environment}`;
    if (this.routed.get(key)?.name === release.name) this.routed.delete(key);
    this.log.push(`stop ${release.name}`);
  }

  async retire(model: string, environment: Environment): Promise<number> {
    const mine = [...this.running.values()].filter((r) => r.model === model && r.environment === environment);
    for (const release of mine) await this.stop(release);
    this.routed.delete(`${model}/${environment}`);
    return mine.length;
  }

  async find(model: string, environment: Environment, version: number): Promise<ReleaseRef | null> {
    return this.running.get(`${model}-${environment}-v${version}`) ?? null;
  }
}
