import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createPipelineActivities, RunUnitInput } from '../activities/pipeline';
import type { ModelTransform, PipelineSpec, TransformSpec } from '../core/pipeline/spec';
import type { ValidatedPipeline } from '../core/pipeline/validate';
import { searchAttributes, taskQueues } from './definitions';
import {
  pipelineDefinitionQuery,
  pipelineStatusQuery,
  pipelineUnitKey,
  pipelineUnitReportSignal,
  setTransformModelUpdate,
  stopPipelineUpdate,
  type ModelChoice,
  type PipelineInput,
  type PipelineStatus,
  type PipelineUnit,
  type SetTransformModelInput,
  type SetTransformModelResult,
  type UnitReport,
  type UnitStatus,
} from './pipeline-definitions';

type PipelineActivities = ReturnType<typeof createPipelineActivities>;

const { preparePipeline } = proxyActivities<PipelineActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['InvalidInput', 'NotFound'] },
});

/** Units run until cancelled; a dead worker shows as a missed heartbeat and the unit is retried elsewhere. */
const unitActivities = (taskQueue: string) =>
  proxyActivities<PipelineActivities>({
    taskQueue,
    startToCloseTimeout: '365 days',
    heartbeatTimeout: '20 seconds',
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: ['InvalidInput', 'InvalidManifest', 'NotFound'],
    },
  });

/** A unit the workflow supervises: its figures and what runs it now. */
interface Supervised {
  unit: PipelineUnit;
  status: UnitStatus;
  /** Restarts counted before the activity that runs now; its own retries add to them. */
  prior: number;
  scope?: CancellationScope;
  restartRequested: boolean;
  /** Starts of the unit so far, and the last one that reported: a swap waits for the new one. */
  run: number;
  reportedRun: number;
}

const choiceOf = (t: ModelTransform): ModelChoice =>
  t.version !== undefined ? { version: t.version } : { environment: t.environment ?? 'production' };

function withChoice(t: TransformSpec, name: string, choice: ModelChoice): TransformSpec {
  if (t.name !== name || t.kind !== 'model') return t;
  const { environment: _e, version: _v, ...rest } = t;
  return choice.version !== undefined
    ? { ...rest, version: choice.version }
    : { ...rest, environment: choice.environment };
}

const messageOf = (err: unknown): string => {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
};

/** Units of a spec: every replica of every transform, every source that runs on its own, every sink. */
function unitsOf(spec: PipelineSpec): PipelineUnit[] {
  return [
    ...spec.transforms.flatMap((t) =>
      Array.from({ length: t.replicas ?? 1 }, (_, replica): PipelineUnit => ({
        kind: 'transform',
        name: t.name,
        replica,
      })),
    ),
    ...(spec.sources ?? [])
      .filter((s) => s.kind !== 'http')
      .map((s): PipelineUnit => ({ kind: 'source', name: s.name, replica: 0 })),
    ...(spec.sinks ?? []).map((s): PipelineUnit => ({ kind: 'sink', name: s.name, replica: 0 })),
  ];
}

const freshStatus = (u: PipelineUnit): UnitStatus => ({
  kind: u.kind,
  name: u.name,
  replica: u.replica,
  state: 'starting',
  restarts: 0,
  counts: {},
  partitions: [],
  messagesPerSecond: 0,
  errors: 0,
  lastError: null,
  updatedAt: null,
});

/**
 * Stage 3: a production pipeline. Creates its topics, runs every transform replica, source and
 * sink as a long heartbeating activity on the stream queue, restarts a failed one with backoff,
 * answers `pipelineStatus` from the checkpoints the units report, swaps a model transform's model
 * by an Update, continues as new before its history grows large, and stops cleanly on
 * `stopPipeline`.
 */
export async function pipeline(input: PipelineInput): Promise<PipelineStatus> {
  const info = workflowInfo();
  const stream = unitActivities(input.streamTaskQueue ?? taskQueues.stream);
  const reportIntervalMs = input.reportIntervalMs ?? 10_000;
  let spec = input.spec;
  let validated: ValidatedPipeline | undefined;
  let stopping = false;
  let draining = false;
  let error: string | undefined;
  const startedAt = input.carried?.startedAt ?? new Date().toISOString();
  const runs = (input.carried?.runs ?? 0) + 1;
  const units = new Map<string, Supervised>();
  for (const unit of unitsOf(spec)) {
    const status = { ...freshStatus(unit), ...input.carried?.units[pipelineUnitKey(unit)], state: 'starting' as const };
    units.set(pipelineUnitKey(unit), {
      unit,
      status,
      prior: status.restarts,
      restartRequested: false,
      run: 0,
      reportedRun: 0,
    });
  }
  let state: PipelineStatus['state'] = 'starting';

  const snapshot = (): PipelineStatus => {
    const all = [...units.values()].map((s) => ({ ...s.status }));
    return {
      name: spec.name,
      state,
      guarantee: spec.guarantee ?? 'at-least-once',
      requestedBy: input.requestedBy,
      startedAt,
      runs,
      topics: validated ? validated.topics.map((t) => t.name) : spec.topics.map((t) => t.name),
      deadLetterTopic: validated?.deadLetterTopic ?? spec.deadLetterTopic ?? `${spec.name}.dead-letter`,
      models: Object.fromEntries(
        spec.transforms.filter((t) => t.kind === 'model').map((t) => [t.name, { model: t.model, ...choiceOf(t) }]),
      ),
      transforms: all.filter((s) => s.kind === 'transform'),
      sources: all.filter((s) => s.kind === 'source'),
      sinks: all.filter((s) => s.kind === 'sink'),
      ...(error ? { error } : {}),
    };
  };

  setHandler(pipelineStatusQuery, snapshot);
  setHandler(pipelineDefinitionQuery, () => validated ?? null);
  setHandler(pipelineUnitReportSignal, (r: UnitReport) => {
    const s = units.get(pipelineUnitKey(r.unit));
    // Late reports of a run already replaced would show the old model's figures: ignore them. The
    // last report of a unit being drained is kept: a source goes on from it in the next run.
    if (!s || r.run !== s.run) return;
    s.reportedRun = r.run;
    const { unit: _u, attempt, run: _r, ...figures } = r;
    s.status = {
      ...s.status,
      ...figures,
      state: 'running',
      restarts: s.prior + attempt - 1,
      updatedAt: new Date().toISOString(),
    };
  });
  setHandler(
    setTransformModelUpdate,
    async (change: SetTransformModelInput): Promise<SetTransformModelResult> => {
      await condition(() => validated !== undefined || draining);
      const t = spec.transforms.find((x) => x.name === change.transform) as ModelTransform;
      const next = { ...spec, transforms: spec.transforms.map((x) => withChoice(x, change.transform, change.model)) };
      try {
        validated = await preparePipeline({ spec: next });
      } catch (err) {
        const cause = err instanceof ActivityFailure ? err.cause : err;
        const type = cause instanceof ApplicationFailure ? (cause.type ?? 'InvalidInput') : 'Unavailable';
        throw ApplicationFailure.create({ type, message: messageOf(err), nonRetryable: true });
      }
      spec = next;
      // Each replica stops where Kafka has its offsets and starts again on the new model.
      const replicas = [...units.values()].filter((s) => s.unit.kind === 'transform' && s.unit.name === t.name);
      const before = new Map(replicas.map((s) => [s, s.run]));
      for (const s of replicas) {
        s.restartRequested = true;
        s.scope?.cancel();
      }
      // Answer once every replica reports from the new model, so records sent after the answer are scored by it.
      await condition(
        () => draining || replicas.every((s) => s.run > (before.get(s) ?? 0) && s.reportedRun === s.run),
        '2 minutes',
      );
      return { transform: t.name, previous: choiceOf(t), current: change.model, restarted: replicas.length };
    },
    {
      validator: (change: SetTransformModelInput): void => {
        if (stopping || draining) throw new Error(`pipeline ${spec.name} is stopping`);
        const t = spec.transforms.find((x) => x.name === change.transform);
        if (!t) throw new Error(`pipeline ${spec.name} has no transform "${change.transform}"`);
        if (t.kind !== 'model') throw new Error(`transform "${t.name}" is a ${t.kind} transform, not a model one`);
        if ((change.model.version === undefined) === (change.model.environment === undefined))
          throw new Error('give either a version or an environment');
      },
    },
  );
  setHandler(stopPipelineUpdate, async () => {
    stopping = true;
    await condition(() => state === 'stopped');
    return snapshot();
  });

  const model = spec.transforms.find((t) => t.kind === 'model');
  upsertSearchAttributes([
    { key: searchAttributes.stage, value: 'pipeline' },
    ...(model?.kind === 'model' ? [{ key: searchAttributes.model, value: model.model }] : []),
  ]);

  // Topics and models first; a model not deployed yet is waited for, a spec that does not hold fails.
  for (let attempt = 1; !validated && !stopping; attempt++) {
    try {
      validated = await preparePipeline({ spec });
      error = undefined;
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : err;
      if (cause instanceof ApplicationFailure && cause.type === 'InvalidInput') throw cause;
      error = messageOf(err);
      await condition(() => stopping, Math.min(60_000, 1000 * 2 ** attempt));
    }
  }

  const activityFor = (u: PipelineUnit): ((i: RunUnitInput) => Promise<unknown>) =>
    u.kind === 'transform'
      ? stream.runPipelineTransform
      : u.kind === 'source'
        ? stream.runPipelineSource
        : stream.runPipelineSink;

  const supervise = async (s: Supervised): Promise<void> => {
    for (let failures = 0; !draining;) {
      s.restartRequested = false;
      s.prior = s.status.restarts;
      s.run += 1;
      s.status.state = failures > 0 ? 'restarting' : 'starting';
      const scope = new CancellationScope();
      s.scope = scope;
      try {
        await scope.run(() =>
          activityFor(s.unit)({
            pipeline: validated as ValidatedPipeline,
            unit: s.unit,
            workflowId: info.workflowId,
            run: s.run,
            reportIntervalMs,
            ...(s.status.resume !== undefined ? { resume: s.status.resume } : {}),
          }),
        );
        if (draining || s.restartRequested) continue;
        s.status.state = 'finished';
        return;
      } catch (err) {
        if (draining || s.restartRequested) continue;
        failures++;
        s.status.restarts += 1;
        s.status.lastError = messageOf(err);
        s.status.state = 'restarting';
        await condition(() => draining, Math.min(60_000, 1000 * 2 ** (failures - 1)));
      }
    }
    // Drained for the next run, a unit goes on from its checkpoint there: only a stop stops it.
    if (stopping) s.status.state = 'stopped';
  };

  const historyFull = (): boolean =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > (input.maxHistoryEvents ?? 20_000);
  let supervisors: Array<Promise<void>> = [];
  try {
    if (validated) {
      state = 'running';
      // Units run outside the root scope's reach: only the workflow's own drain cancels them.
      supervisors = [...units.values()].map((s) => CancellationScope.nonCancellable(() => supervise(s)));
      await condition(() => stopping || historyFull());
    }
  } catch (err) {
    // The workflow itself was cancelled: stop like a DELETE does.
    if (!isCancellation(err)) throw err;
    stopping = true;
  }
  return CancellationScope.nonCancellable(async () => {
    draining = true;
    if (stopping) state = 'stopping';
    for (const s of units.values()) s.scope?.cancel();
    await Promise.all(supervisors);
    if (stopping) state = 'stopped';
    await condition(allHandlersFinished);
    if (!stopping) {
      const carried = {
        startedAt,
        runs,
        units: Object.fromEntries([...units].map(([k, s]) => [k, { ...s.status }])),
      };
      return continueAsNew<typeof pipeline>({ ...input, spec, carried });
    }
    return snapshot();
  });
}
