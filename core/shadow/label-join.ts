import { parseJsonObject } from '../data/bounded-json';
import type { ShadowDraft } from './draft';
import type { LabelStats, PendingLabel, PendingPrediction, Prediction, ShadowTask } from './state';
import { addAbsDifference, addSquaredDifference } from './wide-sum';

/**
 * Joins ground truth to predictions by message key within a time window, in either order: a
 * prediction waits for its label, or a label that came first waits for its prediction. Both
 * waiting sets are bounded; whatever leaves them unjoined is counted, never silently dropped.
 */

/** A record of the label topic, as the stream delivers it. */
export interface LabelRecord {
  key: string | null;
  value: string;
  timestamp: string;
  partition: number;
  offset: string;
}

/** A label to join, or the reason its record holds none (counted as invalid under it). */
export interface LabelMessage {
  /** Join key; a label without one can never be joined and counts as invalid. */
  key: string | null;
  /** As the record carries it; one the task cannot use counts as invalid. */
  label?: unknown;
  timestampMs: number;
  /** Position in the label topic: give it, and a replayed label is ignored like a replayed message. */
  partition?: number;
  offset?: string;
  invalid?: string;
}

/** The label of a label-topic record: `field` of its JSON object (booleans, numbers or text). */
export function labelMessage(record: LabelRecord, field: string): LabelMessage {
  const { key, partition, offset } = record;
  const at = { key, timestampMs: Number(record.timestamp), partition, offset };
  const parsed = parseJsonObject(record.value);
  if (!parsed.ok) return { ...at, invalid: parsed.reason };
  if (!Object.hasOwn(parsed.value, field)) return { ...at, invalid: `missing field "${field}"` };
  return { ...at, label: parsed.value[field] };
}

/** The key and label to join, or why the message has none. */
export function usableLabel(
  task: ShadowTask,
  m: LabelMessage,
): { key: string; label: Prediction } | { invalid: string } {
  if (m.invalid !== undefined) return { invalid: m.invalid };
  if (m.key === null) return { invalid: 'no key' };
  const label = normalizeLabel(task, m.label);
  if (label === null) return { invalid: task === 'regression' ? 'not a number' : 'not a class' };
  return { key: m.key, label };
}

/**
 * A label as the task needs it, or `null` if unusable. Classes are text or finite numbers, and a
 * boolean is the class 1 or 0, as in the Python runtime (serving answers booleans as 1 and 0,
 * and training reads a boolean column as 1 and 0). Regression targets are finite numbers, or
 * text that reads as one.
 */
export function normalizeLabel(task: ShadowTask, label: unknown): Prediction | null {
  if (task === 'regression') {
    const x = typeof label === 'string' && label.trim() !== '' ? Number(label) : label;
    return typeof x === 'number' && Number.isFinite(x) ? x : null;
  }
  if (typeof label === 'boolean') return label ? 1 : 0;
  if (typeof label === 'string') return label;
  return typeof label === 'number' && Number.isFinite(label) ? label : null;
}

function scoreOne(
  stats: LabelStats,
  task: ShadowTask,
  positive: string | null,
  prediction: Prediction,
  label: Prediction,
): void {
  stats.labelled += 1;
  if (task === 'regression') {
    addAbsDifference(stats.sumAbsError, Number(prediction), Number(label));
    addSquaredDifference(stats.sumSquaredError, Number(prediction), Number(label));
    return;
  }
  // Compared as text: a model may answer 1 where the label topic says "1".
  const predicted = String(prediction);
  const actual = String(label);
  if (predicted === actual) stats.correct += 1;
  if (positive === null) return;
  const predictedPositive = predicted === positive;
  const actualPositive = actual === positive;
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

/** Drops waiting predictions stamped before `cutoffMs`. */
export function expirePredictionsBefore(draft: ShadowDraft, cutoffMs: number): void {
  for (const [key, p] of draft.predictions) {
    if (p.timestampMs < cutoffMs) {
      draft.predictions.delete(key);
      draft.state.join.expiredPredictions += 1;
    }
  }
}

/** Drops waiting labels stamped before `cutoffMs`. */
export function expireLabelsBefore(draft: ShadowDraft, cutoffMs: number): void {
  for (const [key, l] of draft.labels) {
    if (l.timestampMs < cutoffMs) {
      draft.labels.delete(key);
      draft.state.join.unmatchedLabels += 1;
    }
  }
}

/** Records a partition's newest timestamp (non-finite stamps, which Kafka does not send, are ignored). */
export function advanceNewest(newest: Record<string, number>, partition: number, timestampMs: number): void {
  if (!Number.isFinite(timestampMs)) return;
  const key = String(partition);
  const current = Object.hasOwn(newest, key) ? newest[key] : undefined;
  if (current === undefined || timestampMs > current) newest[key] = timestampMs;
}

/**
 * A topic's watermark: the oldest of its partitions' newest timestamps, the time that every
 * partition has passed. `partitions` are all the topic's partitions (those it is read from);
 * while one has delivered nothing there is no watermark (`null`); a topic with no partitions
 * (no label topic) has passed every time.
 */
export function watermark(partitions: readonly string[], newest: Record<string, number>): number | null {
  let oldest = Number.POSITIVE_INFINITY;
  for (const p of partitions) {
    const t = Object.hasOwn(newest, p) ? newest[p] : undefined;
    if (t === undefined) return null;
    oldest = Math.min(oldest, t);
  }
  return oldest;
}

/**
 * Expires what no future record can join (taking a partition's timestamps not to go back): a
 * prediction waits until every label partition has passed its time plus the window, a label
 * until every input partition has. A lagging partition holds back the expiry of what it may
 * still join, instead of losing it to a partition that runs ahead.
 */
export function expireByWatermarks(draft: ShadowDraft, windowMs: number): void {
  const s = draft.state;
  const labels = watermark(Object.keys(s.labelOffsets), s.newestTimestamps.labels);
  const input = watermark(Object.keys(s.offsets), s.newestTimestamps.input);
  if (labels !== null) expirePredictionsBefore(draft, labels - windowMs);
  if (input !== null) expireLabelsBefore(draft, input - windowMs);
}

function evictOldest<T>(waiting: Map<string, T>, max: number, onEvict: () => void): void {
  for (const key of waiting.keys()) {
    if (waiting.size <= max) return;
    waiting.delete(key);
    onEvict();
  }
}
