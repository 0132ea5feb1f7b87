import { Context } from '@temporalio/activity';
import {
  decodePendingActivityState,
  type Client,
  type DescribeWorkflowExecutionResponse,
  type WorkflowHandle,
} from '@temporalio/client';
import { decodeTimeoutType, fromPayloadsAtIndex } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { alertsFromFindings, type Alert } from '../core/monitoring/alerts';
import {
  defaultHealthThresholds,
  healthFindings,
  type HealthThresholds,
  type ServerObservation,
  type TransformObservation,
  type TransformRetry,
  type UnansweredPipeline,
} from '../core/monitoring/health';
import type { ProcessorCheckpoint } from '../core/pipeline/processor';
import type { Registry } from '../core/registry/registry';
import { searchAttributes, type Environment } from '../workflows/definitions';
import { pipelineStatusQuery, type PipelineStatus, type UnitStatus } from '../workflows/pipeline-definitions';
import type { ReleaseManager } from './deploy';
import { executionKeys } from './context';
import { withFailureMapping } from './failures';
import { reportIdOf } from './monitoring';

export interface HealthActivityDeps {
  registry: Registry;
  temporal: Client;
  releases: Pick<ReleaseManager, 'serving'>;
  /** The control queue pipelines of this installation run on; pipelines of other installations are not read. */
  controlQueue: string;
  thresholds?: Partial<HealthThresholds>;
  /** How long a server may take to answer ready (5 s). */
  probeTimeoutMs?: number;
}

export interface HealthCheckResult {
  /** Claims of this check's alerts are keyed by it, like a drift report's id. */
  checkId: string;
  alerts: Alert[];
  servers: number;
  transforms: number;
  /** Why a part could not be observed (the serving side cannot list its servers here). */
  notes: string[];
}

const onlyOne = <T>(xs: T[]): T | undefined => (xs.length === 1 ? xs[0] : undefined);

const timestampIso = (t: Parameters<typeof optionalTsToMs>[0]): string | null => {
  const ms = optionalTsToMs(t);
  return ms === undefined ? null : new Date(ms).toISOString();
};

export const createHealthActivities = (deps: HealthActivityDeps) => {
  const thresholds = { ...defaultHealthThresholds, ...deps.thresholds };

  const ready = async (url: string, model: string): Promise<{ ok: boolean; detail?: string }> => {
    try {
      const res = await fetch(`${url.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(model)}/ready`, {
        signal: AbortSignal.timeout(deps.probeTimeoutMs ?? 5000),
      });
      return res.ok ? { ok: true } : { ok: false, detail: `ready answered ${res.status}` };
    } catch (err) {
      return { ok: false, detail: `ready got no answer: ${(err as Error).message}` };
    }
  };

  const observeServers = async (model: string, environment: Environment): Promise<ServerObservation[]> => {
    const serving = await deps.releases.serving!(model, environment);
    return Promise.all(
      serving.map(async (s): Promise<ServerObservation> => {
        if (!s.instance) return { name: s.name, replica: s.replica, running: false, ready: null };
        const probe = await ready(s.instance.url, model);
        return {
          name: s.name,
          replica: s.replica,
          running: true,
          ready: probe.ok,
          ...(probe.detail ? { detail: probe.detail } : {}),
        };
      }),
    );
  };

  /**
   * The retried transform activities of a pipeline, by the unit each runs. The server retries a
   * unit's activity without telling its workflow, so the status query cannot show it. A pending
   * activity carries no input: its unit is found from its last heartbeat (the processor's
   * checkpoint names the transform, and the partitions it owned tell replicas apart). `units`
   * are all the pipeline's transform replicas, so an attempt is never given to the wrong one.
   */
  const retriesOf = async (
    handle: WorkflowHandle,
    units: readonly UnitStatus[],
  ): Promise<Map<UnitStatus, TransformRetry>> => {
    const out = new Map<UnitStatus, TransformRetry>();
    let pending: NonNullable<DescribeWorkflowExecutionResponse['pendingActivities']>;
    try {
      pending = (await handle.describe()).raw.pendingActivities ?? [];
    } catch (err) {
      Context.current().log.warn(`pipeline ${handle.workflowId} could not be described: ${(err as Error).message}`);
      return out;
    }
    const converter = deps.temporal.options.loadedDataConverter.payloadConverter;
    for (const a of pending) {
      const attempt = a.attempt ?? 1;
      if (a.activityType?.name !== 'runPipelineTransform' || !(attempt > 1)) continue;
      let beat: Partial<ProcessorCheckpoint> | undefined;
      try {
        beat = fromPayloadsAtIndex<Partial<ProcessorCheckpoint> | undefined>(
          converter,
          0,
          a.heartbeatDetails?.payloads,
        );
      } catch {
        beat = undefined;
      }
      const owned = new Set((beat?.partitions ?? []).map((p) => p.partition));
      // Without a heartbeat yet, only a pipeline of one transform replica tells whose attempt it is.
      const candidates = units.filter((u) => beat?.transform === undefined || u.name === beat.transform);
      const unit =
        candidates.length === 1
          ? candidates[0]
          : onlyOne(candidates.filter((u) => u.partitions.some((p) => owned.has(p.partition))));
      if (!unit) continue;
      const waiting = decodePendingActivityState(a.state) === 'SCHEDULED';
      const since = timestampIso(waiting ? a.scheduledTime : a.lastStartedTime);
      out.set(unit, {
        attempt,
        waiting,
        since,
        lastFailure: a.lastFailure?.message ?? null,
        heartbeatTimedOut: decodeTimeoutType(a.lastFailure?.timeoutFailureInfo?.timeoutType) === 'HEARTBEAT',
      });
    }
    return out;
  };

  /** Every replica of a model transform, of a running pipeline, that scores with this model's environment. */
  const observeTransforms = async (model: string, environment: Environment) => {
    const transforms: TransformObservation[] = [];
    const startedAt: Record<string, string> = {};
    const unanswered: UnansweredPipeline[] = [];
    const queue = deps.controlQueue.replace(/["\\]/g, '');
    const query = `WorkflowType = 'pipeline' AND ExecutionStatus = 'Running' AND TaskQueue = "${queue}"`;
    for await (const execution of deps.temporal.workflow.list({ query })) {
      const handle = deps.temporal.workflow.getHandle(execution.workflowId, execution.runId);
      let status: PipelineStatus;
      try {
        // A pipeline whose workers are all gone cannot answer: it must not hold up the check.
        status = await deps.temporal.connection.withDeadline(Date.now() + (deps.probeTimeoutMs ?? 5000), () =>
          handle.query(pipelineStatusQuery),
        );
      } catch (err) {
        const detail = (err as Error).message;
        Context.current().log.warn(`pipeline ${execution.workflowId} did not answer its status: ${detail}`);
        // Its status is unknown, so is what it scores with, but for the model it was started for.
        if (execution.typedSearchAttributes.get(searchAttributes.model) === model)
          unanswered.push({ pipeline: execution.workflowId.replace(/^pipeline\//, ''), detail });
        continue;
      }
      if (status.state !== 'running' && status.state !== 'starting') continue;
      const scoring = Object.entries(status.models)
        .filter(([, m]) => m.model === model && m.environment === environment)
        .map(([transform]) => transform);
      if (scoring.length === 0) continue;
      startedAt[status.name] = status.startedAt;
      const units = status.transforms.filter((t) => scoring.includes(t.name));
      const retries = await retriesOf(handle, status.transforms);
      for (const u of units) {
        const retry = retries.get(u);
        transforms.push({
          pipeline: status.name,
          transform: u.name,
          replica: u.replica,
          state: u.state,
          restarts: u.restarts,
          updatedAt: u.updatedAt,
          lastError: u.lastError,
          lag: u.partitions.reduce((sum, p) => sum + (p.lag ?? 0), 0),
          consumed: u.counts.consumed ?? 0,
          errors: u.errors,
          ...(retry ? { retry } : {}),
        });
      }
    }
    return { transforms, startedAt, unanswered };
  };

  return withFailureMapping({
    /**
     * The health of what serves the model's environment now: the servers its endpoint routes to
     * (alive and answering ready) and the model transforms of running pipelines that score with
     * it, as alerts of the deployed version.
     */
    async checkHealth(input: { model: string; environment: Environment; at: string }): Promise<HealthCheckResult> {
      const { model, environment } = input;
      const { workflowId, runId } = executionKeys();
      const checkId = `health-${reportIdOf(input.at, `${workflowId}/${runId}`)}`;
      const current = (await deps.registry.currentDeployments(model)).find((d) => d.environment === environment);
      if (!current)
        return { checkId, alerts: [], servers: 0, transforms: 0, notes: [`nothing is deployed to ${environment}`] };
      const notes: string[] = [];
      let servers: ServerObservation[] | undefined;
      if (deps.releases.serving) servers = await observeServers(model, environment);
      else notes.push('the serving side here cannot list its servers: model servers were not checked');
      const { transforms, startedAt, unanswered } = await observeTransforms(model, environment);
      const findings = healthFindings(
        { servers: servers ?? [], transforms, pipelineStartedAt: startedAt, unansweredPipelines: unanswered },
        // Silence is judged now, not at the check's start, so a retried check sees the present.
        new Date(),
        thresholds,
      ).filter((f) => servers !== undefined || f.type !== 'component_down');
      const scope = { model, environment, version: current.version };
      return {
        checkId,
        alerts: alertsFromFindings(findings, scope, { reportId: checkId, at: input.at }),
        servers: servers?.length ?? 0,
        transforms: transforms.length,
        notes,
      };
    },
  });
};
