import type { ShadowDraft } from './draft';
import type { LabelStats, PendingLabel, PendingPrediction, Prediction, ShadowTask } from './state';

/**
 * Joins ground truth to predictions by message key within a time window, in either order: a
 * prediction waits for its label, or a label that came first waits for its prediction. Both
 * waiting sets are bounded; whatever leaves them unjoined is counted, never silently dropped.
 */

/** A label as the task needs it: classes as they are, regression targets as numbers; `null` if unusable. */
export function normalizeLabel(task: ShadowTask, label: unknown): Prediction | null {
  if (task === 'regression') {
    const x = typeof label === 'string' && label.trim() !== '' ? Number(label) : label;
    return typeof x === 'number' && Number.isFinite(x) ? x : null;
  }
  if (typeof label === 'string') return label;
  return typeof label === 'number' && Number.isFinite(label) ? label : null;
}

function scoreOne(stats: LabelStats, task: ShadowTask, positiveLabel: string, prediction: Prediction, label: Prediction): void {
  stats.labelled += 1;
  if (task === 'regression') {
    const error = Number(prediction) - Number(label);
    stats.sumAbsError += Math.abs(error);
    stats.sumSquaredError += error * error;
    return;
  }
  // Compared as text: a model may answer 1 where the label topic says "1".
  const predicted = String(prediction);
  const actual = String(label);
  if (predicted === actual) stats.correct += 1;
  const predictedPositive = predicted === positiveLabel;
  const actualPositive = actual === positiveLabel;
  if (predictedPositive && actualPositive) stats.truePositives += 1;
  else if (predictedPositive) stats.falsePositives += 1;
  else if (actualPositive) stats.falseNegatives += 1;
  else stats.trueNegatives += 1;
}

function join(draft: ShadowDraft, prediction: PendingPrediction, label: Prediction): void {
  const s = draft.state;
  if (prediction.candidate !== null) scoreOne(s.candidate.labels, s.task, s.positiveLabel, prediction.candidate, label);
  if (prediction.champion !== null) scoreOne(s.champion.labels, s.task, s.positiveLabel, prediction.champion, label);
  s.join.joined += 1;
}

const withinWindow = (a: number, b: number, windowMs: number): boolean => Math.abs(a - b) <= windowMs;

/** A freshly scored message: joins a waiting label, or waits for one. */
export function awaitLabel(draft: ShadowDraft, prediction: PendingPrediction, windowMs: number): void {
  const waiting = draft.labels.get(prediction.key);
  if (waiting && withinWindow(waiting.timestampMs, prediction.timestampMs, windowMs)) {
    draft.labels.delete(prediction.key);
    join(draft, prediction, waiting.label);
    return;
  }
  if (draft.predictions.delete(prediction.key)) draft.state.join.supersededPredictions += 1;
  draft.predictions.set(prediction.key, prediction);
  evictOldest(draft.predictions, draft.state.maxPendingPredictions, () => (draft.state.join.evictedPredictions += 1));
}

/** A label: joins the waiting prediction with its key, or waits for one. */
export function acceptLabel(draft: ShadowDraft, label: PendingLabel, windowMs: number): void {
  const waiting = draft.predictions.get(label.key);
  if (waiting && withinWindow(waiting.timestampMs, label.timestampMs, windowMs)) {
    draft.predictions.delete(label.key);
    join(draft, waiting, label.label);
    return;
  }
  if (draft.labels.delete(label.key)) draft.state.join.unmatchedLabels += 1;
  draft.labels.set(label.key, label);
  evictOldest(draft.labels, draft.state.maxPendingLabels, () => (draft.state.join.unmatchedLabels += 1));
}

/** Drops waiting predictions and labels stamped before `cutoffMs`. */
export function expireBefore(draft: ShadowDraft, cutoffMs: number): void {
  for (const [key, p] of draft.predictions) {
    if (p.timestampMs < cutoffMs) {
      draft.predictions.delete(key);
      draft.state.join.expiredPredictions += 1;
    }
  }
  for (const [key, l] of draft.labels) {
    if (l.timestampMs < cutoffMs) {
      draft.labels.delete(key);
      draft.state.join.unmatchedLabels += 1;
    }
  }
}

function evictOldest<T>(waiting: Map<string, T>, max: number, onEvict: () => void): void {
  for (const key of waiting.keys()) {
    if (waiting.size <= max) return;
    waiting.delete(key);
    onEvict();
  }
}
