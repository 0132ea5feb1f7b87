import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every Prometheus series of the worker process, with one small function per thing to record, so
 * that activities, stream processors and monitoring code each feed theirs in one line. The
 * worker's `/metrics` (workers/metrics-server.ts) serves this registry together with the
 * Temporal SDK's own series (`temporal_*`). Names carry the `mloop_` prefix and their unit;
 * labels are kept to bounded sets (models, pipelines, stages, features: no keys or offsets).
 *
 * Counts must be whole and not negative, durations finite and not negative: anything else throws a
 * RangeError naming the series, since a wrong number on a dashboard is worse than a failed call.
 */
export const workerRegistry = new Registry();

const registers = [workerRegistry];

/** Seconds, from a 10 ms registry call to a two-hour training run. */
const activityBuckets = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200];

export const activityDuration = new Histogram({
  name: 'mloop_activity_duration_seconds',
  help:
    'Activity attempts by activity type, task queue and outcome ' +
    '(completed, failed, cancelled, timed_out), in seconds.',
  labelNames: ['activity_type', 'task_queue', 'outcome'] as const,
  buckets: activityBuckets,
  registers,
});

export const shadowMessages = new Counter({
  name: 'mloop_shadow_messages_total',
  help: 'Messages a shadow test applied (scored or dead-lettered), by model.',
  labelNames: ['model'] as const,
  registers,
});

export const shadowLag = new Gauge({
  name: 'mloop_shadow_lag_messages',
  help: 'Records of the input topic a running shadow test has not applied yet, by model.',
  labelNames: ['model'] as const,
  registers,
});

export const pipelineRecords = new Counter({
  name: 'mloop_pipeline_records_total',
  help: 'Records a pipeline stage handled, by pipeline, stage and outcome (ok, dead_letter, filtered).',
  labelNames: ['pipeline', 'stage', 'outcome'] as const,
  registers,
});

export const pipelineLag = new Gauge({
  name: 'mloop_pipeline_lag_messages',
  help: 'Records waiting in the input topic of a pipeline stage, by pipeline and stage.',
  labelNames: ['pipeline', 'stage'] as const,
  registers,
});

export const driftScore = new Gauge({
  name: 'mloop_drift_score',
  help: 'The last drift check’s score per model, feature and statistic (on the statistic’s own scale).',
  labelNames: ['model', 'feature', 'statistic'] as const,
  registers,
});

export const driftChecks = new Counter({
  name: 'mloop_drift_checks_total',
  help: 'Drift checks by model and outcome (drift, no_drift, failed).',
  labelNames: ['model', 'outcome'] as const,
  registers,
});

export const alerts = new Counter({
  name: 'mloop_alerts_total',
  help: 'Alerts raised, by model, kind and severity.',
  labelNames: ['model', 'kind', 'severity'] as const,
  registers,
});

export type ActivityOutcome = 'completed' | 'failed' | 'cancelled' | 'timed_out';

/** One activity attempt (the worker's activity interceptor calls this). */
export function recordActivity(
  activityType: string,
  taskQueue: string,
  outcome: ActivityOutcome,
  elapsed: number,
): void {
  activityDuration.observe(
    { activity_type: activityType, task_queue: taskQueue, outcome },
    seconds('mloop_activity_duration_seconds', elapsed),
  );
}

/** `count` more messages applied by a model's shadow test. */
export function recordShadowMessages(model: string, count: number): void {
  shadowMessages.inc({ model }, whole('mloop_shadow_messages_total', count));
}

/** What a model's shadow test still has to read; `null` when its test ended (the series goes away). */
export function setShadowLag(model: string, messages: number | null): void {
  if (messages === null) shadowLag.remove({ model });
  else shadowLag.set({ model }, whole('mloop_shadow_lag_messages', messages));
}

export type PipelineOutcome = 'ok' | 'dead_letter' | 'filtered';

/** `count` records of one pipeline stage, e.g. `recordPipelineRecords('pm-alerts', 'windows', 'ok', batch.length)`. */
export function recordPipelineRecords(pipeline: string, stage: string, outcome: PipelineOutcome, count: number): void {
  pipelineRecords.inc({ pipeline, stage, outcome }, whole('mloop_pipeline_records_total', count));
}

/** Records waiting for a pipeline stage; `null` when the stage stopped (the series goes away). */
export function setPipelineLag(pipeline: string, stage: string, messages: number | null): void {
  if (messages === null) pipelineLag.remove({ pipeline, stage });
  else pipelineLag.set({ pipeline, stage }, whole('mloop_pipeline_lag_messages', messages));
}

export type DriftOutcome = 'drift' | 'no_drift' | 'failed';

/**
 * One drift check: its outcome, and the score of every feature and statistic it computed, e.g.
 * `recordDriftCheck('pm', 'drift', [{ feature: 'rpm', statistic: 'psi', score: 0.31 }])`.
 */
export function recordDriftCheck(
  model: string,
  outcome: DriftOutcome,
  scores: ReadonlyArray<{ feature: string; statistic: string; score: number }> = [],
): void {
  // A statistic may be NaN (undefined) or infinite (e.g. PSI over an empty bin): Prometheus shows both.
  for (const s of scores) driftScore.set({ model, feature: s.feature, statistic: s.statistic }, s.score);
  driftChecks.inc({ model, outcome });
}

/** One alert raised, e.g. `recordAlert('pm', 'drift', 'warning')`. */
export function recordAlert(model: string, kind: string, severity: string): void {
  alerts.inc({ model, kind, severity });
}

function whole(series: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${series}: expected a whole count ≥ 0, got ${n}`);
  return n;
}

function seconds(series: string, x: number): number {
  if (!Number.isFinite(x) || x < 0) throw new RangeError(`${series}: expected a finite number ≥ 0, got ${x}`);
  return x;
}
