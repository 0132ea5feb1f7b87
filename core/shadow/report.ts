import { latencyMean, latencyPercentile } from './latency';
import type { LabelStats, ModelStats, ShadowState, ShadowTask } from './state';
import { wideSumMean, wideSumRootMean } from './wide-sum';

/**
 * A figure that may be beyond the double range: a number, or the text `Infinity`, `-Infinity` or
 * `NaN`. Reports travel as JSON, which has no such numbers and would turn them into null (which
 * reads as "nothing measured"), so they are spelled out and judging can refuse them.
 */
export type Figure = number | 'Infinity' | '-Infinity' | 'NaN';

export const figure = (x: number): Figure => {
  if (Number.isFinite(x)) return x;
  if (Number.isNaN(x)) return 'NaN';
  return x > 0 ? 'Infinity' : '-Infinity';
};

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
  /**
   * Classification: accuracy, precision, recall, f1 (of the positive class; `null` without one);
   * regression: mae, rmse. `null` when nothing is labelled.
   */
  metrics: Record<string, Figure | null>;
  confusion?: { truePositives: number; falsePositives: number; trueNegatives: number; falseNegatives: number };
}

export interface ShadowReport {
  task: ShadowTask;
  /** Classification: the class that precision, recall and f1 are of, as text; `null` when there is none. */
  positiveClass: string | null;
  /** Every message applied: scored plus dead-lettered. */
  messages: number;
  elapsedMs: number;
  messagesPerSecond: number | null;
  deadLettered: { total: number; byReason: Record<string, number> };
  candidate: ModelReport;
  /** `null` when no message was given to a champion. */
  champion: ModelReport | null;
  /** Over messages both models scored. */
  comparison: { messages: number; agreeing: number | null; agreement: number | null; meanAbsDiff: Figure | null };
  labels: {
    joined: number;
    unmatched: number;
    /** Label records without a usable label, in total and by reason. */
    invalid: number;
    invalidByReason: Record<string, number>;
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

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

function labelMetrics(task: ShadowTask, positive: string | null, l: LabelStats): Record<string, Figure | null> {
  if (task === 'regression') {
    if (l.labelled === 0) return { mae: null, rmse: null };
    return {
      mae: figure(wideSumMean(l.sumAbsError, l.labelled)),
      rmse: figure(wideSumRootMean(l.sumSquaredError, l.labelled)),
    };
  }
  if (l.labelled === 0) return { accuracy: null, precision: null, recall: null, f1: null };
  const accuracy = l.correct / l.labelled;
  if (positive === null) return { accuracy, precision: null, recall: null, f1: null };
  const precision = safeRatio(l.truePositives, l.truePositives + l.falsePositives);
  const recall = safeRatio(l.truePositives, l.truePositives + l.falseNegatives);
  return { accuracy, precision, recall, f1: safeRatio(2 * precision * recall, precision + recall) };
}

function modelReport(task: ShadowTask, positive: string | null, m: ModelStats): ModelReport {
  const failed = total(m.failures);
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
    metrics: labelMetrics(task, positive, l),
    ...(task === 'classification' && positive !== null
      ? {
          confusion: {
            truePositives: l.truePositives,
            falsePositives: l.falsePositives,
            trueNegatives: l.trueNegatives,
            falseNegatives: l.falseNegatives,
          },
        }
      : {}),
  };
}

/** Summarises a state; `elapsedMs` is the wall time the test has run, for throughput. */
export function report(state: ShadowState, elapsedMs: number): ShadowReport {
  const c = state.comparison;
  const classification = state.task === 'classification';
  const positive = classification ? state.positiveLabel : null;
  return {
    task: state.task,
    positiveClass: positive,
    messages: state.messages,
    elapsedMs,
    messagesPerSecond: elapsedMs > 0 ? state.messages / (elapsedMs / 1000) : null,
    deadLettered: { total: total(state.deadLettered), byReason: { ...state.deadLettered } },
    candidate: modelReport(state.task, positive, state.candidate),
    champion: state.champion.attempts > 0 ? modelReport(state.task, positive, state.champion) : null,
    comparison: {
      messages: c.both,
      agreeing: classification ? c.agreeing : null,
      agreement: classification ? ratio(c.agreeing, c.both) : null,
      meanAbsDiff: classification || c.both === 0 ? null : figure(wideSumMean(c.sumAbsDiff, c.both)),
    },
    labels: {
      joined: state.join.joined,
      unmatched: state.join.unmatchedLabels,
      invalid: total(state.join.invalidLabels),
      invalidByReason: { ...state.join.invalidLabels },
      waiting: state.pendingLabels.length,
      predictionsWaiting: state.pendingPredictions.length,
      predictionsExpired: state.join.expiredPredictions,
      predictionsEvicted: state.join.evictedPredictions,
      predictionsSuperseded: state.join.supersededPredictions,
    },
  };
}
