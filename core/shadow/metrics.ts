import { addLatency } from './latency';
import { bump, claimOffset, fromDraft, toDraft, type ShadowDraft } from './draft';
import {
  acceptLabel,
  advanceNewest,
  awaitLabel,
  expireByWatermarks,
  expireLabelsBefore,
  expirePredictionsBefore,
  usableLabel,
  type LabelMessage,
} from './label-join';
import { addAbsDifference } from './wide-sum';
import type { ModelStats, Prediction, ShadowState, ShadowTask } from './state';

/**
 * Live metrics of a shadow test as pure "apply this batch" functions: each takes a state and
 * returns the next one, leaving its argument untouched, with no clock or randomness inside. A
 * batch is applied whole or not at all (a throw leaves the caller's state as it was), and
 * messages at offsets the state has already applied are ignored, so replaying a batch after a
 * crash counts nothing twice. Pass batches rather than single messages: each call copies the
 * state once.
 */
export { emptyShadowState, type ShadowOptions, type ShadowState, type ShadowTask, type Prediction } from './state';
export { report, type Figure, type ShadowReport, type ModelReport } from './report';
export { shadowCheckpoint, resumeShadow, alreadyApplied, type ShadowCheckpoint } from './checkpoint';
export { labelMessage, type LabelMessage, type LabelRecord } from './label-join';

export type ModelOutcome = { prediction: Prediction; latencyMs: number } | { failure: string };

export interface ScoredMessage {
  /** Join key for labels; `null` means this message can never be labelled. */
  key: string | null;
  partition: number;
  offset: string;
  timestampMs: number;
  candidate: ModelOutcome;
  /** Absent when there is no champion to compare with. */
  champion?: ModelOutcome;
}

export interface MalformedMessage {
  partition: number;
  offset: string;
  reason: string;
  /** The record's timestamp: it moves its partition's watermark like a scored message. */
  timestampMs?: number;
}

/** A prediction that the task cannot use counts as the model's failure, not as a prediction. */
export const INVALID_PREDICTION = 'invalid_prediction';

const batch = <T>(items: T | readonly T[]): readonly T[] => (Array.isArray(items) ? items : [items as T]);

function validPrediction(task: ShadowTask, p: unknown): p is Prediction {
  if (task === 'regression') return typeof p === 'number' && Number.isFinite(p);
  return typeof p === 'string' || (typeof p === 'number' && Number.isFinite(p));
}

/** Counts one model's outcome; returns its prediction, or null when it failed. */
function applyOutcome(stats: ModelStats, task: ShadowTask, outcome: ModelOutcome): Prediction | null {
  stats.attempts += 1;
  if ('failure' in outcome) {
    bump(stats.failures, outcome.failure);
    return null;
  }
  if (!validPrediction(task, outcome.prediction)) {
    bump(stats.failures, INVALID_PREDICTION);
    return null;
  }
  addLatency(stats.latency, outcome.latencyMs);
  stats.scored += 1;
  return outcome.prediction;
}

function applyOne(draft: ShadowDraft, m: ScoredMessage): void {
  const s = draft.state;
  if (!claimOffset(s.offsets, m.partition, m.offset)) return;
  advanceNewest(s.newestTimestamps.input, m.partition, m.timestampMs);
  s.messages += 1;
  const candidate = applyOutcome(s.candidate, s.task, m.candidate);
  const champion = m.champion ? applyOutcome(s.champion, s.task, m.champion) : null;
  if (candidate !== null && champion !== null) {
    s.comparison.both += 1;
    if (s.task === 'classification') s.comparison.agreeing += String(candidate) === String(champion) ? 1 : 0;
    else addAbsDifference(s.comparison.sumAbsDiff, Number(candidate), Number(champion));
  }
  if (m.key !== null) {
    awaitLabel(draft, { key: m.key, timestampMs: m.timestampMs, candidate, champion }, s.labelWindowMs);
  }
}

/** Counts scored messages (one or a batch) and lets them wait for labels. */
export function applyScored(state: ShadowState, messages: ScoredMessage | readonly ScoredMessage[]): ShadowState {
  const draft = toDraft(state);
  for (const m of batch(messages)) applyOne(draft, m);
  return fromDraft(draft);
}

/**
 * Counts messages that were dead-lettered before scoring, by reason. They carry their position
 * too: they advance the partition's offset and a replay of them is ignored.
 */
export function applyMalformed(
  state: ShadowState,
  messages: MalformedMessage | readonly MalformedMessage[],
): ShadowState {
  const draft = toDraft(state);
  for (const m of batch(messages)) {
    if (!claimOffset(draft.state.offsets, m.partition, m.offset)) continue;
    if (m.timestampMs !== undefined) advanceNewest(draft.state.newestTimestamps.input, m.partition, m.timestampMs);
    draft.state.messages += 1;
    bump(draft.state.deadLettered, m.reason);
  }
  return fromDraft(draft);
}

/**
 * Joins labels to the predictions with the same key whose timestamps are within `windowMs`
 * (default: the state's window), updating both models' error metrics; a label with no
 * prediction yet waits for one. A record without a usable label (no key, not JSON, no label
 * field, not a class or number) is counted as invalid by reason: every record is accounted for.
 */
export function applyLabel(
  state: ShadowState,
  labels: LabelMessage | readonly LabelMessage[],
  windowMs = state.labelWindowMs,
): ShadowState {
  const draft = toDraft(state);
  const s = draft.state;
  for (const l of batch(labels)) {
    if (l.partition !== undefined && l.offset !== undefined) {
      if (!claimOffset(s.labelOffsets, l.partition, l.offset)) continue;
      advanceNewest(s.newestTimestamps.labels, l.partition, l.timestampMs);
    }
    const usable = usableLabel(s.task, l);
    if ('invalid' in usable) bump(s.join.invalidLabels, usable.invalid);
    else acceptLabel(draft, { key: usable.key, timestampMs: l.timestampMs, label: usable.label }, windowMs);
  }
  return fromDraft(draft);
}

/**
 * Drops waiting predictions and labels older than `windowMs` before `nowMs`. Pass event time
 * rather than the wall clock, so a replay expires the same; a stream over partitions should use
 * `expireByWatermark`, which waits for its slowest partition.
 */
export function expire(state: ShadowState, nowMs: number, windowMs = state.labelWindowMs): ShadowState {
  const draft = toDraft(state);
  expirePredictionsBefore(draft, nowMs - windowMs);
  expireLabelsBefore(draft, nowMs - windowMs);
  return fromDraft(draft);
}

/**
 * Drops waiting predictions and labels that no record still to come can join: predictions older
 * than `windowMs` before the label topic's watermark (the newest timestamp that every one of its
 * partitions has passed), labels likewise before the input topic's. Event time only, so a replay
 * expires the same.
 */
export function expireByWatermark(state: ShadowState, windowMs = state.labelWindowMs): ShadowState {
  const draft = toDraft(state);
  expireByWatermarks(draft, windowMs);
  return fromDraft(draft);
}
