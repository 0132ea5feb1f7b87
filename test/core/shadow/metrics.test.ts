import { describe, expect, it } from 'vitest';
import {
  applyLabel,
  applyMalformed,
  applyScored,
  emptyShadowState,
  expire,
  expireByWatermark,
  report,
  resumeShadow,
  shadowCheckpoint,
  type ScoredMessage,
  type ShadowState,
} from '../../../core/shadow/metrics';
import { judgeShadow } from '../../../core/shadow/thresholds';
import { labelledMessages, shadowStream, type StreamEvent } from './streams';

const at = (
  partition: number,
  offset: number,
  key: string | null,
  timestampMs: number,
  rest: Partial<ScoredMessage> = {},
): ScoredMessage => ({
  key,
  partition,
  offset: String(offset),
  timestampMs,
  candidate: { prediction: 1, latencyMs: 5 },
  champion: { prediction: 1, latencyMs: 7 },
  ...rest,
});

/** Applies a stream in batches of consecutive events of one kind, as the activity would. */
function applyEvents(state: ShadowState, events: StreamEvent[]): ShadowState {
  let s = state;
  let i = 0;
  while (i < events.length) {
    const first = events[i];
    let j = i;
    while (j < events.length && Object.keys(events[j] ?? {})[0] === Object.keys(first ?? {})[0]) j++;
    const run = events.slice(i, j);
    if (first && 'scored' in first)
      s = applyScored(
        s,
        run.flatMap((e) => ('scored' in e ? [e.scored] : [])),
      );
    else if (first && 'malformed' in first)
      s = applyMalformed(
        s,
        run.flatMap((e) => ('malformed' in e ? [e.malformed] : [])),
      );
    else
      s = applyLabel(
        s,
        run.flatMap((e) => ('label' in e ? [e.label] : [])),
      );
    i = j;
  }
  return s;
}

describe('shadow metrics: counting', () => {
  it('counts messages, scored and failed per model by kind, and dead letters by reason', () => {
    let s = emptyShadowState('classification');
    s = applyScored(s, [
      at(0, 0, 'a', 1),
      at(0, 1, 'b', 2, { candidate: { failure: 'timeout' } }),
      at(1, 0, 'c', 3, { champion: { failure: 'http_500' } }),
      at(1, 1, 'd', 4, { champion: undefined }),
      at(2, 0, 'e', 5, { candidate: { failure: 'timeout' }, champion: { failure: 'timeout' } }),
    ]);
    s = applyMalformed(s, [
      { partition: 0, offset: '2', reason: 'not_json' },
      { partition: 2, offset: '1', reason: 'not_json' },
      { partition: 2, offset: '2', reason: 'missing_feature' },
    ]);
    const r = report(s, 2000);
    expect(r.messages).toBe(8);
    expect(r.messagesPerSecond).toBe(4);
    expect(r.deadLettered).toEqual({ total: 3, byReason: { not_json: 2, missing_feature: 1 } });
    expect(r.candidate).toMatchObject({
      attempts: 5,
      scored: 3,
      failed: 2,
      failureRate: 0.4,
      failures: { timeout: 2 },
    });
    expect(r.champion).toMatchObject({
      attempts: 4,
      scored: 2,
      failed: 2,
      failureRate: 0.5,
      failures: { http_500: 1, timeout: 1 },
    });
    expect(r.comparison).toEqual({ messages: 1, agreeing: 1, agreement: 1, meanAbsDiff: null });
    expect(r.candidate.latencyMs).toMatchObject({ p50: 5, p99: 5, mean: 5, max: 5 });
    expect(r.champion?.latencyMs.p99).toBe(7);
  });

  it('reports no champion when no message had one, and no throughput without elapsed time', () => {
    const s = applyScored(emptyShadowState('classification'), at(0, 0, 'a', 1, { champion: undefined }));
    const r = report(s, 0);
    expect(r.champion).toBeNull();
    expect(r.messagesPerSecond).toBeNull();
    expect(r.comparison.agreement).toBeNull();
  });

  it('measures agreement over the messages both models scored, labels compared as text', () => {
    const s = applyScored(emptyShadowState('classification'), [
      at(0, 0, null, 1, { candidate: { prediction: 1, latencyMs: 1 }, champion: { prediction: '1', latencyMs: 1 } }),
      at(0, 1, null, 1, { candidate: { prediction: 0, latencyMs: 1 }, champion: { prediction: 1, latencyMs: 1 } }),
      at(0, 2, null, 1, { candidate: { prediction: 'a', latencyMs: 1 }, champion: { prediction: 'a', latencyMs: 1 } }),
      at(0, 3, null, 1, { candidate: { prediction: 'b', latencyMs: 1 }, champion: { failure: 'timeout' } }),
    ]);
    expect(report(s, 1).comparison).toEqual({ messages: 3, agreeing: 2, agreement: 2 / 3, meanAbsDiff: null });
  });

  it('measures the mean absolute difference for regression, and counts unusable predictions as failures', () => {
    const s = applyScored(emptyShadowState('regression'), [
      at(0, 0, null, 1, { candidate: { prediction: 10, latencyMs: 1 }, champion: { prediction: 12.5, latencyMs: 1 } }),
      at(0, 1, null, 1, { candidate: { prediction: 3, latencyMs: 1 }, champion: { prediction: 2.5, latencyMs: 1 } }),
      at(0, 2, null, 1, { candidate: { prediction: 'high', latencyMs: 1 }, champion: { prediction: 1, latencyMs: 1 } }),
    ]);
    const r = report(s, 1);
    expect(r.comparison).toEqual({ messages: 2, agreeing: null, agreement: null, meanAbsDiff: 1.5 });
    expect(r.candidate.failures).toEqual({ invalid_prediction: 1 });
  });

  it('never changes the state it is given, and applies a batch whole or not at all', () => {
    const s0 = applyScored(emptyShadowState('classification'), at(0, 0, 'a', 1));
    const frozen = JSON.stringify(s0);
    applyScored(s0, at(0, 1, 'b', 2));
    applyMalformed(s0, { partition: 0, offset: '1', reason: 'x' });
    applyLabel(s0, { key: 'a', label: 1, timestampMs: 1 });
    expire(s0, 10_000_000_000, 1);
    expect(JSON.stringify(s0)).toBe(frozen);
    expect(() =>
      applyScored(s0, [at(0, 1, 'b', 2), at(0, 2, 'c', 3, { candidate: { prediction: 1, latencyMs: -1 } })]),
    ).toThrow(RangeError);
    expect(JSON.stringify(s0)).toBe(frozen);
  });
});

describe('shadow metrics: label join', () => {
  it('joins a label that comes after its prediction, for both models', () => {
    let s = applyScored(
      emptyShadowState('classification', { positiveLabel: 1 }),
      at(0, 0, 'a', 1000, { candidate: { prediction: 1, latencyMs: 1 }, champion: { prediction: 0, latencyMs: 1 } }),
    );
    expect(s.pendingPredictions).toHaveLength(1);
    s = applyLabel(s, { key: 'a', label: '1', timestampMs: 5000 }, 10_000);
    const r = report(s, 1);
    expect(r.labels).toMatchObject({ joined: 1, unmatched: 0, predictionsWaiting: 0 });
    expect(r.candidate.metrics).toEqual({ accuracy: 1, precision: 1, recall: 1, f1: 1 });
    expect(r.champion?.metrics).toEqual({ accuracy: 0, precision: 0, recall: 0, f1: 0 });
    expect(r.champion?.confusion).toEqual({ truePositives: 0, falsePositives: 0, trueNegatives: 0, falseNegatives: 1 });
  });

  it('joins a label that comes before its prediction', () => {
    let s = applyLabel(emptyShadowState('regression', { labelWindowMs: 10_000 }), {
      key: 'a',
      label: 10,
      timestampMs: 1000,
    });
    expect(report(s, 1).labels.waiting).toBe(1);
    s = applyScored(
      s,
      at(0, 0, 'a', 3000, { candidate: { prediction: 12, latencyMs: 1 }, champion: { prediction: 7, latencyMs: 1 } }),
    );
    const r = report(s, 1);
    expect(r.labels).toMatchObject({ joined: 1, waiting: 0, predictionsWaiting: 0 });
    expect(r.candidate.metrics).toEqual({ mae: 2, rmse: 2 });
    expect(r.champion?.metrics).toEqual({ mae: 3, rmse: 3 });
  });

  it('joins only within the window; what never joins is counted when it expires', () => {
    let s = applyScored(emptyShadowState('classification'), [at(0, 0, 'a', 1000), at(0, 1, 'b', 1000)]);
    s = applyLabel(
      s,
      [
        { key: 'a', label: 1, timestampMs: 1000 + 60_001 },
        { key: 'zzz', label: 0, timestampMs: 2000 },
      ],
      60_000,
    );
    expect(report(s, 1).labels).toMatchObject({ joined: 0, waiting: 2, predictionsWaiting: 2 });
    s = expire(s, 1000 + 60_000, 60_000);
    expect(report(s, 1).labels).toMatchObject({ predictionsWaiting: 2, predictionsExpired: 0 });
    s = expire(s, 2000 + 60_001, 60_000);
    // Both predictions (t=1000) and the label for zzz (t=2000) are now too old; a's late label is not.
    expect(report(s, 1).labels).toMatchObject({
      joined: 0,
      waiting: 1,
      unmatched: 1,
      predictionsWaiting: 0,
      predictionsExpired: 2,
    });
  });

  it('expires by the watermark that every partition of the other topic has passed', () => {
    const partitions = () => ({ 0: '0', 1: '0' });
    const start = {
      ...emptyShadowState('classification', { labelWindowMs: 1000 }),
      offsets: partitions(),
      labelOffsets: partitions(),
    };
    const label = (key: string, partition: number, offset: number, timestampMs: number) => ({
      key,
      label: 1,
      timestampMs,
      partition,
      offset: String(offset),
    });
    let s = applyScored(start, [at(0, 0, 'a', 0), at(1, 0, 'b', 5000)]);
    s = expireByWatermark(applyLabel(s, label('x', 0, 0, 0)));
    // Label partition 1 has delivered nothing: a label for a or b may still come there.
    expect(report(s, 1).labels).toMatchObject({ predictionsWaiting: 2, waiting: 1, predictionsExpired: 0 });
    s = expireByWatermark(applyLabel(s, [label('y', 1, 0, 3000), label('z', 0, 1, 2500)]));
    // Both label partitions have passed 2500: a (t=0) cannot be joined any more; b (t=5000) can.
    expect(s.pendingPredictions.map((p) => p.key)).toEqual(['b']);
    expect(report(s, 1).labels).toMatchObject({ predictionsExpired: 1, waiting: 3, unmatched: 0 });
    s = expireByWatermark(applyScored(s, at(0, 1, 'c', 4500)));
    // Both input partitions have passed 4500: labels before 3500 expire, unmatched.
    expect(report(s, 1).labels).toMatchObject({ waiting: 0, unmatched: 3 });
    // Without a label topic nothing can join a prediction: it expires at once.
    const unlabelled = expireByWatermark(
      applyScored({ ...emptyShadowState('classification'), offsets: { 0: '0' } }, at(0, 0, 'a', 0)),
    );
    expect(report(unlabelled, 1).labels).toMatchObject({ predictionsWaiting: 0, predictionsExpired: 1 });
  });

  it('keeps at most maxPending predictions and labels, evicting the oldest', () => {
    let s = emptyShadowState('classification', { maxPending: 3, maxPendingLabels: 2 });
    s = applyScored(
      s,
      [0, 1, 2, 3, 4].map((i) => at(0, i, `k${i}`, i)),
    );
    expect(s.pendingPredictions.map((p) => p.key)).toEqual(['k2', 'k3', 'k4']);
    expect(report(s, 1).labels.predictionsEvicted).toBe(2);
    s = applyLabel(s, [
      { key: 'k0', label: 1, timestampMs: 0 },
      { key: 'k4', label: 1, timestampMs: 4 },
    ]);
    expect(report(s, 1).labels).toMatchObject({ joined: 1, waiting: 1 });
    s = applyLabel(s, [
      { key: 'x', label: 1, timestampMs: 0 },
      { key: 'y', label: 1, timestampMs: 0 },
    ]);
    expect(s.pendingLabels.map((l) => l.key)).toEqual(['x', 'y']);
    expect(report(s, 1).labels.unmatched).toBe(1);
  });

  it('lets the newest prediction of a repeated key wait, counting the older one as superseded', () => {
    let s = applyScored(emptyShadowState('classification'), [
      at(0, 0, 'k', 1, { candidate: { prediction: 0, latencyMs: 1 } }),
      at(0, 1, 'j', 2),
      at(0, 2, 'k', 3, { candidate: { prediction: 1, latencyMs: 1 } }),
    ]);
    expect(s.pendingPredictions.map((p) => p.key)).toEqual(['j', 'k']);
    s = applyLabel(s, { key: 'k', label: 1, timestampMs: 4 });
    expect(report(s, 1).labels.predictionsSuperseded).toBe(1);
    expect(report(s, 1).candidate.metrics.accuracy).toBe(1);
  });

  it('counts labels the task cannot use as invalid', () => {
    const s = applyLabel(emptyShadowState('regression'), [
      { key: 'a', label: 'high', timestampMs: 1 },
      { key: 'b', label: '2.5', timestampMs: 1 },
    ]);
    expect(report(s, 1).labels).toMatchObject({ invalid: 1, waiting: 1 });
  });

  it('derives error metrics equal to a direct computation on the same records', () => {
    for (const task of ['classification', 'regression'] as const) {
      const messages = labelledMessages(task, 3000, task === 'classification' ? 5 : 6);
      let s = emptyShadowState(task, { maxPending: 10_000, positiveLabel: 1 });
      s = applyScored(
        s,
        messages.map((m) => m.message),
      );
      s = applyLabel(
        s,
        messages.map(({ message, label }) => ({ key: message.key ?? '', label, timestampMs: message.timestampMs })),
      );
      const r = report(s, 1);
      for (const role of ['candidate', 'champion'] as const) {
        const pairs = messages.flatMap(({ message, label }) => {
          const o = message[role];
          return o && 'prediction' in o ? [{ p: Number(o.prediction), y: label }] : [];
        });
        const got = r[role];
        expect(got?.labelled).toBe(pairs.length);
        expect(pairs.length).toBeGreaterThan(2800);
        if (task === 'classification') {
          const tp = pairs.filter((x) => x.p === 1 && x.y === 1).length;
          const fp = pairs.filter((x) => x.p === 1 && x.y === 0).length;
          const fn = pairs.filter((x) => x.p === 0 && x.y === 1).length;
          const precision = tp / (tp + fp);
          const recall = tp / (tp + fn);
          expect(got?.metrics.accuracy).toBeCloseTo(pairs.filter((x) => x.p === x.y).length / pairs.length, 12);
          expect(got?.metrics.precision).toBeCloseTo(precision, 12);
          expect(got?.metrics.recall).toBeCloseTo(recall, 12);
          expect(got?.metrics.f1).toBeCloseTo((2 * precision * recall) / (precision + recall), 12);
          expect(got?.confusion?.trueNegatives).toBe(pairs.filter((x) => x.p === 0 && x.y === 0).length);
        } else {
          const mae = pairs.reduce((a, x) => a + Math.abs(x.p - x.y), 0) / pairs.length;
          const rmse = Math.sqrt(pairs.reduce((a, x) => a + (x.p - x.y) ** 2, 0) / pairs.length);
          expect(got?.metrics.mae).toBeCloseTo(mae, 9);
          expect(got?.metrics.rmse).toBeCloseTo(rmse, 9);
        }
      }
    }
  });
});

describe('shadow metrics: resuming', () => {
  it('ignores a replayed batch, and the already-applied part of an overlapping one', () => {
    const msgs = [0, 1, 2, 3, 4, 5].map((i) => at(i % 2, Math.floor(i / 2), `k${i}`, i));
    const once = applyScored(emptyShadowState('classification'), msgs);
    expect(applyScored(once, msgs)).toEqual(once);
    // A crash after the first four: the consumer re-reads from the committed offsets or earlier.
    const partial = applyScored(emptyShadowState('classification'), msgs.slice(0, 4));
    expect(applyScored(partial, msgs.slice(2))).toEqual(once);
    const dead = applyMalformed(once, { partition: 0, offset: '3', reason: 'not_json' });
    expect(applyMalformed(dead, { partition: 0, offset: '3', reason: 'not_json' })).toEqual(dead);
    expect(report(dead, 1).messages).toBe(7);
    const labelled = applyLabel(once, { key: 'k0', label: 1, timestampMs: 0, partition: 0, offset: '0' });
    expect(applyLabel(labelled, { key: 'k0', label: 1, timestampMs: 0, partition: 0, offset: '0' })).toEqual(labelled);
  });

  it('gives identical results after JSON round trips and crash replays as in one uninterrupted run', () => {
    for (const task of ['classification', 'regression'] as const) {
      const events = shadowStream(task, 2000, 21);
      const start = emptyShadowState(task, { maxPending: 11, maxPendingLabels: 2, labelWindowMs: 1_500 });
      const chunk = 97;
      // Expiry by event time at fixed points, the same in both runs.
      const expireAfter = (s: ShadowState, i: number): ShadowState => {
        if ((i / chunk) % 5 !== 4) return s;
        const last = events.slice(0, i + chunk).findLast((e) => 'scored' in e);
        return last && 'scored' in last ? expire(s, last.scored.timestampMs) : s;
      };
      let uninterrupted = start;
      let checkpointed = start;
      for (let i = 0; i < events.length; i += chunk) {
        uninterrupted = expireAfter(applyEvents(uninterrupted, events.slice(i, i + chunk)), i);
        // A crash after every checkpoint: restore it from JSON and re-read the last 150 events too.
        const restored = JSON.parse(JSON.stringify(checkpointed)) as ShadowState;
        checkpointed = expireAfter(applyEvents(restored, events.slice(Math.max(0, i - 150), i + chunk)), i);
      }
      expect(checkpointed).toEqual(uninterrupted);
      expect(report(checkpointed, 60_000)).toEqual(report(uninterrupted, 60_000));
      const r = report(uninterrupted, 1);
      expect(r.labels.joined).toBeGreaterThan(1000);
      expect(r.deadLettered.total).toBeGreaterThan(10);
      expect(r.labels.predictionsEvicted).toBeGreaterThan(0);
      expect(r.labels.predictionsExpired).toBeGreaterThan(0);
      expect(r.labels.unmatched).toBeGreaterThan(0);
    }
  });
});

describe('shadow metrics: figures beyond the double range', () => {
  const asJson = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
  const regression = (candidate: number[], champion: number[], labels: number[]): ShadowState => {
    const messages = candidate.map((c, i) =>
      at(0, i, `k${i}`, i, {
        candidate: { prediction: c, latencyMs: 1 },
        champion: { prediction: champion[i] ?? 0, latencyMs: 1 },
      }),
    );
    const s = applyScored(emptyShadowState('regression'), messages);
    return applyLabel(
      s,
      labels.map((label, i) => ({ key: `k${i}`, label, timestampMs: i, partition: 0, offset: String(i) })),
    );
  };

  it('keeps the rmse of a diverging candidate (1e200 vs 0) through a checkpoint, and fails maxErrorIncrease', () => {
    const s = regression([1e200, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]);
    const resumed = resumeShadow(asJson(shadowCheckpoint(s))).state;
    for (const state of [s, resumed]) {
      const r = report(state, 1);
      expect(Number(r.candidate.metrics.rmse) / 5e199).toBeCloseTo(1, 12);
      expect(r.candidate.metrics.mae).toBe(2.5e199);
      expect(r.champion?.metrics.rmse).toBe(0);
      const verdict = judgeShadow(r, { maxErrorIncrease: { max: 0.5, metric: 'rmse' } });
      expect(verdict.passed).toBe(false);
      expect(verdict.reasons[0]).toBe(
        "candidate rmse 5e+199 is 5e+199 above the champion's 0, more than the allowed 0.500 (4 labelled messages)",
      );
    }
    expect(report(resumed, 1)).toEqual(report(s, 1));
  });

  it('reports a figure beyond the double range as Infinity, never as 0 or null, and fails the thresholds on it', () => {
    // |1.5e308 − (−1.5e308)| = 3e308 is beyond the double range; the mean over two messages is not.
    const two = regression([1.5e308, 0], [-1.5e308, 0], [0, 0]);
    expect(report(two, 1).comparison.meanAbsDiff).toBe(1.5e308);
    const one = regression([1.5e308], [-1.5e308], [-1.5e308]);
    const r = report(resumeShadow(asJson(shadowCheckpoint(one))).state, 1);
    expect(r.comparison.meanAbsDiff).toBe('Infinity');
    expect(r.candidate.metrics).toEqual({ mae: 'Infinity', rmse: 'Infinity' });
    expect(asJson(r).candidate.metrics.rmse).toBe('Infinity');
    const verdict = judgeShadow(asJson(r), { maxMeanAbsDiff: 1e300, maxErrorIncrease: { max: 1, metric: 'rmse' } });
    expect(verdict.reasons).toEqual([
      'mean absolute difference is Infinity, not a finite number (over 1 messages both models scored)',
      'rmse cannot be compared: candidate rmse is Infinity, not a finite number (1 labelled messages)',
    ]);
  });
});
