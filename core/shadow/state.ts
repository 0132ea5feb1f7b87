import { emptyLatencyHistogram, type LatencyHistogram } from './latency';
import { emptyWideSum, type WideSum } from './wide-sum';

/**
 * The accumulated state of a shadow test, as plain JSON: the activity that runs the test
 * heartbeats it whole and resumes from it, so it holds no Maps, classes, Infinity or NaN (sums
 * that could overflow are wide sums), and it carries the next offset of every partition it has
 * applied (see checkpoint.ts).
 */
export type ShadowTask = 'classification' | 'regression';
export type Prediction = number | string;
export type ModelRole = 'candidate' | 'champion';

export const SHADOW_STATE_VERSION = 2;

/** Error accumulators over labelled messages; the fields of the other task stay 0. */
export interface LabelStats {
  labelled: number;
  correct: number;
  truePositives: number;
  falsePositives: number;
  trueNegatives: number;
  falseNegatives: number;
  sumAbsError: WideSum;
  sumSquaredError: WideSum;
}

export interface ModelStats {
  /** Messages given to this model. */
  attempts: number;
  scored: number;
  failures: Record<string, number>;
  latency: LatencyHistogram;
  labels: LabelStats;
}

/** A scored message waiting for its label; `null` where that model produced no prediction. */
export interface PendingPrediction {
  key: string;
  timestampMs: number;
  candidate: Prediction | null;
  champion: Prediction | null;
}

/** A label that arrived before its prediction. */
export interface PendingLabel {
  key: string;
  timestampMs: number;
  label: Prediction;
}

export interface JoinCounts {
  joined: number;
  /** Labels that left the pending set without meeting their prediction. */
  unmatchedLabels: number;
  /**
   * Label records that cannot be used, by reason: no key, not JSON, no label field, or a label
   * that is not a class (classification) or a number (regression).
   */
  invalidLabels: Record<string, number>;
  expiredPredictions: number;
  evictedPredictions: number;
  /** Predictions replaced by a newer one with the same key before a label came. */
  supersededPredictions: number;
}

export interface ShadowState {
  version: typeof SHADOW_STATE_VERSION;
  task: ShadowTask;
  /**
   * Classification: the class counted as positive for TP/FP/TN/FN, compared as text; the one
   * recorded with the candidate's version (see core/registry/versions.ts). `null` when there is
   * none (more than two classes, or a version that predates the record): precision, recall and
   * f1 are then not reported.
   */
  positiveLabel: string | null;
  /** Default window for joining labels to predictions (either order). */
  labelWindowMs: number;
  maxPendingPredictions: number;
  maxPendingLabels: number;
  /** Per partition of the scored topic, the offset of the next message not yet applied. */
  offsets: Record<string, string>;
  /** The same for the label topic, when labels come with their positions. */
  labelOffsets: Record<string, string>;
  /**
   * Per partition, the newest record timestamp applied (ms). The oldest of them over a topic's
   * partitions is its watermark: what waits for a record of that topic expires by it.
   */
  newestTimestamps: { input: Record<string, number>; labels: Record<string, number> };
  /** Messages applied: scored plus dead-lettered. */
  messages: number;
  deadLettered: Record<string, number>;
  candidate: ModelStats;
  champion: ModelStats;
  /** Over messages both models scored: count, equal labels, sum of |candidate − champion|. */
  comparison: { both: number; agreeing: number; sumAbsDiff: WideSum };
  join: JoinCounts;
  /** Oldest first. */
  pendingPredictions: PendingPrediction[];
  pendingLabels: PendingLabel[];
}

export interface ShadowOptions {
  /** The positive class of a binary classification (see `ShadowState.positiveLabel`); default none. */
  positiveLabel?: Prediction | null;
  labelWindowMs?: number;
  maxPending?: number;
  maxPendingLabels?: number;
}

// About 70 bytes a pending entry in JSON: 5000 of each keep a heartbeat under Temporal's 2 MB
// payload limit with room to spare.
const DEFAULT_MAX_PENDING = 5000;
const DEFAULT_LABEL_WINDOW_MS = 24 * 60 * 60 * 1000;

const emptyLabelStats = (): LabelStats => ({
  labelled: 0,
  correct: 0,
  truePositives: 0,
  falsePositives: 0,
  trueNegatives: 0,
  falseNegatives: 0,
  sumAbsError: emptyWideSum(),
  sumSquaredError: emptyWideSum(),
});

const emptyModelStats = (): ModelStats => ({
  attempts: 0,
  scored: 0,
  failures: {},
  latency: emptyLatencyHistogram(),
  labels: emptyLabelStats(),
});

export function emptyShadowState(task: ShadowTask, opts: ShadowOptions = {}): ShadowState {
  const maxPending = opts.maxPending ?? DEFAULT_MAX_PENDING;
  const maxPendingLabels = opts.maxPendingLabels ?? maxPending;
  const labelWindowMs = opts.labelWindowMs ?? DEFAULT_LABEL_WINDOW_MS;
  for (const [name, value] of Object.entries({ maxPending, maxPendingLabels })) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be an integer ≥ 0 (got ${value})`);
  }
  if (!Number.isFinite(labelWindowMs) || labelWindowMs < 0) {
    throw new RangeError(`labelWindowMs must be a finite number ≥ 0 (got ${labelWindowMs})`);
  }
  return {
    version: SHADOW_STATE_VERSION,
    task,
    positiveLabel: opts.positiveLabel === undefined || opts.positiveLabel === null ? null : String(opts.positiveLabel),
    labelWindowMs,
    maxPendingPredictions: maxPending,
    maxPendingLabels,
    offsets: {},
    labelOffsets: {},
    newestTimestamps: { input: {}, labels: {} },
    messages: 0,
    deadLettered: {},
    candidate: emptyModelStats(),
    champion: emptyModelStats(),
    comparison: { both: 0, agreeing: 0, sumAbsDiff: emptyWideSum() },
    join: {
      joined: 0,
      unmatchedLabels: 0,
      invalidLabels: {},
      expiredPredictions: 0,
      evictedPredictions: 0,
      supersededPredictions: 0,
    },
    pendingPredictions: [],
    pendingLabels: [],
  };
}
