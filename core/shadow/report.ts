import { latencyMean, latencyPercentile } from './latency';
import type { LabelStats, ModelStats, ShadowState, ShadowTask } from './state';

/** A plain summary of a shadow test, for status queries, judging and the registry. */
export interface ModelReport {
  /** Messages given to the model. */
  attempts: number;
  scored: number;
  failed: number;
  /** failed / attempts; `null` before any attempt. */
  failureRate: number | null;
  failures: Record<string, number>;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null; mean: number | null; max: number | null };
  /** Messages of this model joined to a label. */
  labelled: number;
  /** Classification: accuracy, precision, recall, f1 (of the positive class); regression: mae, rmse. `null` when nothing is labelled. */
  metrics: Record<string, number | null>;
  confusion?: { truePositives: number; falsePositives: number; trueNegatives: number; falseNegatives: number };
}

export interface ShadowReport {
  task: ShadowTask;
  /** Every message applied: scored plus dead-lettered. */
  messages: number;
  elapsedMs: number;
  messagesPerSecond: number | null;
  deadLettered: { total: number; byReason: Record<string, number> };
  candidate: ModelReport;
  /** `null` when no message was given to a champion. */
  champion: ModelReport | null;
  /** Over messages both models scored. */
  comparison: { messages: number; agreeing: number | null; agreement: number | null; meanAbsDiff: number | null };
  labels: {
    joined: number;
    unmatched: number;
    invalid: number;
    waiting: number;
    predictionsWaiting: number;
    predictionsExpired: number;
    predictionsEvicted: number;
    predictionsSuperseded: number;
  };
}

const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b);
// Zero where undefined (no predicted or no actual positives), as the Python runtime reports it.
const safeRatio = (a: number, b: number): number => (b === 0 ? 0 : a / b);

function labelMetrics(task: ShadowTask, l: LabelStats): Record<string, number | null> {
  if (task === 'regression') {
    return { mae: ratio(l.sumAbsError, l.labelled), rmse: l.labelled === 0 ? null : Math.sqrt(l.sumSquaredError / l.labelled) };
  }
  if (l.labelled === 0) return { accuracy: null, precision: null, recall: null, f1: null };
  const precision = safeRatio(l.truePositives, l.truePositives + l.falsePositives);
  const recall = safeRatio(l.truePositives, l.truePositives + l.falseNegatives);
  return { accuracy: l.correct / l.labelled, precision, recall, f1: safeRatio(2 * precision * recall, precision + recall) };
}

function modelReport(task: ShadowTask, m: ModelStats): ModelReport {
  const failed = Object.values(m.failures).reduce((a, b) => a + b, 0);
  const l = m.labels;
  return {
    attempts: m.attempts,
    scored: m.scored,
    failed,
    failureRate: ratio(failed, m.attempts),
    failures: { ...m.failures },
    latencyMs: {
      p50: latencyPercentile(m.latency, 50),
      p95: latencyPercentile(m.latency, 95),
      p99: latencyPercentile(m.latency, 99),
      mean: latencyMean(m.latency),
      max: m.latency.maxMs,
    },
    labelled: l.labelled,
    metrics: labelMetrics(task, l),
    ...(task === 'classification'
      ? { confusion: { truePositives: l.truePositives, falsePositives: l.falsePositives, trueNegatives: l.trueNegatives, falseNegatives: l.falseNegatives } }
      : {}),
  };
}

/** Summarises a state; `elapsedMs` is the wall time the test has run, for throughput. */
export function report(state: ShadowState, elapsedMs: number): ShadowReport {
  const c = state.comparison;
  const classification = state.task === 'classification';
  return {
    task: state.task,
    messages: state.messages,
    elapsedMs,
    messagesPerSecond: elapsedMs > 0 ? state.messages / (elapsedMs / 1000) : null,
    deadLettered: { total: Object.values(state.deadLettered).reduce((a, b) => a + b, 0), byReason: { ...state.deadLettered } },
    candidate: modelReport(state.task, state.candidate),
    champion: state.champion.attempts > 0 ? modelReport(state.task, state.champion) : null,
    comparison: {
      messages: c.both,
      agreeing: classification ? c.agreeing : null,
      agreement: classification ? ratio(c.agreeing, c.both) : null,
      meanAbsDiff: classification ? null : ratio(c.sumAbsDiff, c.both),
    },
    labels: {
      joined: state.join.joined,
      unmatched: state.join.unmatchedLabels,
      invalid: state.join.invalidLabels,
      waiting: state.pendingLabels.length,
      predictionsWaiting: state.pendingPredictions.length,
      predictionsExpired: state.join.expiredPredictions,
      predictionsEvicted: state.join.evictedPredictions,
      predictionsSuperseded: state.join.supersededPredictions,
    },
  };
}
