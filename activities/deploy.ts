import { Context } from '@temporalio/activity';
import type { ServingServer } from '../core/deploy/releases';
import type { Registry } from '../core/registry/registry';
import type {
  DeployModelResult,
  DeployResources,
  DeployStatus,
  Environment,
  RetireDeploymentInput,
  ReleaseRef,
  RuntimeBackend,
  VersionRef,
} from '../workflows/definitions';
import { executionKeys } from './context';
import { withFailureMapping } from './failures';

export interface StartReleaseInput {
  model: string;
  environment: Environment;
  version: VersionRef;
  backend: RuntimeBackend;
  resources: DeployResources;
}

/**
 * What the deploy activities need from the serving side: model servers per release (processes or
 * containers) and the stable endpoint in front of them. Every method is idempotent: a release is
 * found by its deterministic name before anything is created.
 */
export interface ReleaseManager {
  start(input: StartReleaseInput, onProgress: (note: string) => void): Promise<ReleaseRef>;
  /** Ready within the timeout, then one smoke inference answered by the right version; throws DeploymentFailed. */
  check(release: ReleaseRef, timeoutSeconds: number): Promise<void>;
  /** Sends the environment's traffic to the release, drains the servers it replaces and says which release that was. */
  route(release: ReleaseRef): Promise<{ endpoint: string; previous: ReleaseRef | null }>;
  /** Takes the release out of its endpoint (if it is there) and stops and removes its servers. */
  stop(release: ReleaseRef): Promise<void>;
  find(model: string, environment: Environment, version: number): Promise<ReleaseRef | null>;
  /** The servers the environment's endpoint routes to, with the runtime's running instance of each (health checks). */
  serving?(model: string, environment: Environment): Promise<ServingServer[]>;
  /** Stops every release of the environment and takes its endpoint out of service; says how many ran. */
  retire(model: string, environment: Environment): Promise<number>;
}

export interface DeployActivityDeps {
  releases: ReleaseManager;
  registry: Registry;
}

export const createDeployActivities = (deps: DeployActivityDeps) =>
  withFailureMapping({
    async startRelease(input: StartReleaseInput): Promise<ReleaseRef> {
      // Building a model image can take minutes without a progress note: beat on a timer too, with
      // the last note, so a live build is never taken for a dead worker (the heartbeat timeout is 30 s).
      const ctx = Context.current();
      let note = 'starting';
      const beat = setInterval(() => ctx.heartbeat(note), 5000);
      try {
        return await deps.releases.start(input, (n) => {
          note = n;
          ctx.heartbeat(n);
        });
      } finally {
        clearInterval(beat);
      }
    },

    async checkRelease(input: { release: ReleaseRef; timeoutSeconds: number }): Promise<void> {
      const beat = setInterval(() => Context.current().heartbeat('checking'), 5000);
      try {
        await deps.releases.check(input.release, input.timeoutSeconds);
      } finally {
        clearInterval(beat);
      }
    },

    async routeRelease(input: { release: ReleaseRef }): Promise<{ endpoint: string; previous: ReleaseRef | null }> {
      const beat = setInterval(() => Context.current().heartbeat('routing'), 5000);
      try {
        return await deps.releases.route(input.release);
      } finally {
        clearInterval(beat);
      }
    },

    async stopRelease(input: { release: ReleaseRef }): Promise<void> {
      await deps.releases.stop(input.release);
    },

    /** Stops a version's release in an environment, if it runs; a retired candidate leaves nothing behind. */
    async retireRelease(input: { model: string; environment: Environment; version: number }): Promise<void> {
      const release = await deps.releases.find(input.model, input.environment, input.version);
      if (release) await deps.releases.stop(release);
    },

    async retireEnvironment(input: { model: string; environment: Environment }): Promise<number> {
      return deps.releases.retire(input.model, input.environment);
    },

    async recordRetirement(input: RetireDeploymentInput): Promise<void> {
      const { workflowId, runId, activityId } = executionKeys();
      await deps.registry.recordDeploymentEvent({
        key: `${workflowId}/${runId}/${activityId}`,
        model: input.model,
        environment: input.environment,
        version: input.version,
        outcome: 'retired',
        endpoint: null,
        by: input.by,
        decision: null,
        status: input,
        workflowId,
      });
    },

    /** Why the version may not be promoted: a failed shadow test. Unknown versions are NotFound. */
    async promotionBlockers(input: { model: string; version: number }): Promise<string | undefined> {
      await deps.registry.getVersion(input.model, input.version);
      const reports = await deps.registry.listShadowReports(input.model, input.version);
      const failed = reports.filter((r) => !r.passed).at(-1);
      return failed ? `it failed its shadow test (${failed.reasons.join('; ')})` : undefined;
    },

    /** Moves `champion` to the version, with who approved it in the alias history. */
    async promoteChampion(input: { model: string; version: number; by: string; reason: string }): Promise<void> {
      await deps.registry.setAlias({
        model: input.model,
        alias: 'champion',
        version: input.version,
        by: input.by,
        reason: input.reason,
      });
    },

    /** Keeps the deploy's end in the registry's deployment audit; retries record it once. */
    async recordDeployment(input: {
      status: DeployStatus;
      outcome: DeployModelResult['outcome'] | 'retired';
    }): Promise<void> {
      const { workflowId, runId, activityId } = executionKeys();
      const s = input.status;
      const decision = s.approval?.decision ?? null;
      await deps.registry.recordDeploymentEvent({
        key: `${workflowId}/${runId}/${activityId}`,
        model: s.model,
        environment:
          input.outcome === 'staged' || input.outcome === 'rejected' || input.outcome === 'expired'
            ? 'staging'
            : s.environment,
        version: s.version,
        outcome: input.outcome,
        endpoint: s.endpoints[s.environment] ?? s.endpoints.staging ?? null,
        by: decision?.by ?? s.requestedBy,
        decision,
        status: s,
        workflowId,
      });
    },
  });
