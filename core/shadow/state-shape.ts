import { invalidInput } from '../errors';
import { LATENCY_BUCKETS } from './latency';
import { SHADOW_STATE_VERSION, type ShadowState } from './state';
import { isWideSum, wideSumOf } from './wide-sum';

/**
 * Reads a shadow state back from untyped JSON (a heartbeat checkpoint) and checks every field,
 * so that a resumed test either continues from exactly the figures it had or stops with an
 * error naming the field: a number that JSON turned into null must never be read as 0. States
 * of the previous layout (version 1) are upgraded when they are intact.
 */
export function readShadowState(x: unknown, where = 'checkpoint.state'): ShadowState {
  const raw = record(x, where);
  const state = raw.version === 1 ? upgradeV1(raw, where) : raw;
  if (state.version !== SHADOW_STATE_VERSION) {
    const reads = `this code reads ${SHADOW_STATE_VERSION} (and 1)`;
    throw invalidInput(`${where}.version`, `is ${show(state.version)}, ${reads}`);
  }
  checkState(state, where);
  return state as unknown as ShadowState;
}

type Json = Record<string, unknown>;

const show = (x: unknown): string => (x === undefined ? 'missing' : JSON.stringify(x).slice(0, 80));

function record(x: unknown, where: string): Json {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    throw invalidInput(where, `must be an object, got ${show(x)}`);
  }
  return x as Json;
}

function check(ok: boolean, where: string, what: string, x: unknown): void {
  if (!ok) throw invalidInput(where, `must be ${what}, got ${show(x)}`);
}

const count = (x: unknown, where: string): void =>
  check(Number.isSafeInteger(x) && (x as number) >= 0, where, 'a count', x);
const finite = (x: unknown, where: string): void =>
  check(typeof x === 'number' && Number.isFinite(x), where, 'a finite number', x);
const wide = (x: unknown, where: string): void =>
  check(isWideSum(x), where, 'a sum {value, exponent} of finite numbers', x);
const prediction = (x: unknown, where: string): void =>
  check(typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x)), where, 'a class or a finite number', x);

function each(x: unknown, where: string, item: (v: unknown, at: string) => void): void {
  for (const [k, v] of Object.entries(record(x, where))) item(v, `${where}.${k}`);
}

function offsets(x: unknown, where: string): void {
  each(x, where, (v, at) => check(typeof v === 'string' && /^\d+$/.test(v), at, 'a decimal offset', v));
  for (const p of Object.keys(record(x, where))) {
    check(/^\d+$/.test(p), `${where}.${p}`, 'keyed by a partition number', p);
  }
}

function latency(x: unknown, where: string): void {
  const h = record(x, where);
  count(h.count, `${where}.count`);
  finite(h.sumMs, `${where}.sumMs`);
  for (const k of ['minMs', 'maxMs']) if (h[k] !== null) finite(h[k], `${where}.${k}`);
  const buckets = `${LATENCY_BUCKETS} buckets`;
  check(Array.isArray(h.buckets) && h.buckets.length === LATENCY_BUCKETS, `${where}.buckets`, buckets, h.buckets);
  (h.buckets as unknown[]).forEach((b, i) => count(b, `${where}.buckets.${i}`));
}

function modelStats(x: unknown, where: string): void {
  const m = record(x, where);
  count(m.attempts, `${where}.attempts`);
  count(m.scored, `${where}.scored`);
  each(m.failures, `${where}.failures`, count);
  latency(m.latency, `${where}.latency`);
  const l = record(m.labels, `${where}.labels`);
  for (const k of ['labelled', 'correct', 'truePositives', 'falsePositives', 'trueNegatives', 'falseNegatives']) {
    count(l[k], `${where}.labels.${k}`);
  }
  wide(l.sumAbsError, `${where}.labels.sumAbsError`);
  wide(l.sumSquaredError, `${where}.labels.sumSquaredError`);
}

function checkState(s: Json, where: string): void {
  const task = 'classification or regression (unknown task)';
  check(s.task === 'classification' || s.task === 'regression', `${where}.task`, task, s.task);
  const positive = s.positiveLabel;
  check(positive === null || typeof positive === 'string', `${where}.positiveLabel`, 'text or null', positive);
  finite(s.labelWindowMs, `${where}.labelWindowMs`);
  count(s.maxPendingPredictions, `${where}.maxPendingPredictions`);
  count(s.maxPendingLabels, `${where}.maxPendingLabels`);
  offsets(s.offsets, `${where}.offsets`);
  offsets(s.labelOffsets, `${where}.labelOffsets`);
  const newest = record(s.newestTimestamps, `${where}.newestTimestamps`);
  each(newest.input, `${where}.newestTimestamps.input`, finite);
  each(newest.labels, `${where}.newestTimestamps.labels`, finite);
  count(s.messages, `${where}.messages`);
  each(s.deadLettered, `${where}.deadLettered`, count);
  modelStats(s.candidate, `${where}.candidate`);
  modelStats(s.champion, `${where}.champion`);
  const c = record(s.comparison, `${where}.comparison`);
  count(c.both, `${where}.comparison.both`);
  count(c.agreeing, `${where}.comparison.agreeing`);
  wide(c.sumAbsDiff, `${where}.comparison.sumAbsDiff`);
  const j = record(s.join, `${where}.join`);
  for (const k of ['joined', 'unmatchedLabels', 'expiredPredictions', 'evictedPredictions', 'supersededPredictions']) {
    count(j[k], `${where}.join.${k}`);
  }
  each(j.invalidLabels, `${where}.join.invalidLabels`, count);
  pending(s.pendingPredictions, `${where}.pendingPredictions`, (p, at) => {
    for (const role of ['candidate', 'champion']) if (p[role] !== null) prediction(p[role], `${at}.${role}`);
  });
  pending(s.pendingLabels, `${where}.pendingLabels`, (l, at) => prediction(l.label, `${at}.label`));
}

function pending(x: unknown, where: string, item: (entry: Json, at: string) => void): void {
  check(Array.isArray(x), where, 'an array', x);
  (x as unknown[]).forEach((e, i) => {
    const entry = record(e, `${where}.${i}`);
    check(typeof entry.key === 'string', `${where}.${i}.key`, 'text', entry.key);
    finite(entry.timestampMs, `${where}.${i}.timestampMs`);
    item(entry, `${where}.${i}`);
  });
}

/**
 * Version 1 kept its sums as plain numbers, which JSON turned into null once they overflowed:
 * such a checkpoint cannot resume exactly and is refused. Its positive class stays what it
 * counted with, and its invalid labels keep their count under the task's reason.
 */
function upgradeV1(v1: Json, where: string): Json {
  const sum = (x: unknown, at: string) => {
    if (!(typeof x === 'number' && Number.isFinite(x) && x >= 0)) {
      const lost = 'this version-1 checkpoint lost a sum that overflowed, so the test cannot resume exactly';
      throw invalidInput(at, `is ${show(x)}: ${lost}`);
    }
    return wideSumOf(x);
  };
  const models = Object.fromEntries(
    (['candidate', 'champion'] as const).map((role) => {
      const m = record(v1[role], `${where}.${role}`);
      const l = record(m.labels, `${where}.${role}.labels`);
      const labels = {
        ...l,
        sumAbsError: sum(l.sumAbsError, `${where}.${role}.labels.sumAbsError`),
        sumSquaredError: sum(l.sumSquaredError, `${where}.${role}.labels.sumSquaredError`),
      };
      return [role, { ...m, labels }];
    }),
  );
  const comparison = record(v1.comparison, `${where}.comparison`);
  const join = record(v1.join, `${where}.join`);
  count(join.invalidLabels, `${where}.join.invalidLabels`);
  const invalid = join.invalidLabels as number;
  const reason = v1.task === 'regression' ? 'not a number' : 'not a class';
  return {
    ...v1,
    ...models,
    version: SHADOW_STATE_VERSION,
    newestTimestamps: { input: {}, labels: {} },
    comparison: { ...comparison, sumAbsDiff: sum(comparison.sumAbsDiff, `${where}.comparison.sumAbsDiff`) },
    join: { ...join, invalidLabels: invalid > 0 ? { [reason]: invalid } : {} },
  };
}
