import { describe, expect, it } from 'vitest';
import {
  applyLabel,
  applyMalformed,
  applyScored,
  emptyShadowState,
  report,
  type ScoredMessage,
  type ShadowReport,
} from '../../../core/shadow/metrics';
import type { ShadowTask } from '../../../core/shadow/state';
import { judgeShadow } from '../../../core/shadow/thresholds';

interface Spec {
  task?: ShadowTask;
  n: number;
  /** Per message: candidate and champion outcome. */
  candidate: (i: number) => ScoredMessage['candidate'];
  champion?: (i: number) => ScoredMessage['champion'];
  labels?: (i: number) => number;
}

function reportOf({ task = 'classification', n, candidate, champion, labels }: Spec): ShadowReport {
  const messages = Array.from({ length: n }, (_, i): ScoredMessage => ({
    key: `k${i}`,
    partition: 0,
    offset: String(i),
    timestampMs: i,
    candidate: candidate(i),
    ...(champion ? { champion: champion(i) } : {}),
  }));
  let s = applyScored(emptyShadowState(task, { maxPending: n, positiveLabel: 1 }), messages);
  if (labels)
    s = applyLabel(
      s,
      messages.map((m, i) => ({ key: m.key ?? '', label: labels(i), timestampMs: i })),
    );
  return report(s, 10_000);
}

const ok = (prediction: number | string, latencyMs = 10) => ({ prediction, latencyMs });

describe('judging a shadow test', () => {
  it('passes a healthy candidate with every threshold set', () => {
    const r = reportOf({ n: 1000, candidate: () => ok(1), champion: () => ok(1), labels: () => 1 });
    const verdict = judgeShadow(r, {
      minMessages: 1000,
      minAgreement: 0.95,
      maxFailureRate: { candidate: 0, champion: 0 },
      maxP99LatencyMs: 50,
      maxErrorIncrease: { max: 0, minLabelled: 1000 },
    });
    expect(verdict).toEqual({ passed: true, reasons: [] });
  });

  it('names the metric and the figures behind each failure', () => {
    const r = reportOf({
      n: 5060,
      candidate: (i) =>
        i < 60 ? { failure: i < 50 ? 'timeout' : 'http_500' } : ok(i < 4111 ? 1 : 0, i % 50 === 0 ? 900 : 10),
      champion: () => ok(1, 8),
    });
    const verdict = judgeShadow(r, {
      minMessages: 10_000,
      minAgreement: 0.9,
      maxFailureRate: 0.01,
      maxP99LatencyMs: { candidate: 100, champion: 5 },
    });
    expect(verdict.passed).toBe(false);
    expect(verdict.reasons).toEqual([
      'messages 5060 is below the minimum 10000 (messages that reached the models)',
      'agreement 0.81 is below the minimum 0.90 (4051 of 5000 messages)',
      'candidate failure rate 0.012 is above the maximum 0.010 (60 of 5060 messages: timeout 50, http_500 10)',
      // 900 ms as the histogram sees it: within its ±4.9% bucket width.
      'candidate p99 latency 874.4 ms is above the maximum 100.0 ms (5000 scored messages)',
      'champion p99 latency 8 ms is above the maximum 5 ms (5060 scored messages)',
    ]);
  });

  it('applies a plain number to the candidate only', () => {
    const r = reportOf({ n: 10, candidate: () => ok(1), champion: () => ({ failure: 'timeout' }) });
    expect(judgeShadow(r, { maxFailureRate: 0 }).passed).toBe(true);
    expect(judgeShadow(r, { maxFailureRate: { champion: 0.5 } }).reasons).toEqual([
      'champion failure rate 1.000 is above the maximum 0.500 (10 of 10 messages: timeout 10)',
    ]);
  });

  it('says how many messages were dead-lettered when too few reached the models', () => {
    let s = applyScored(emptyShadowState('classification'), {
      key: null,
      partition: 0,
      offset: '0',
      timestampMs: 0,
      candidate: ok(1),
    });
    s = applyMalformed(s, { partition: 0, offset: '1', reason: 'not_json' });
    expect(judgeShadow(report(s, 1), { minMessages: 2 }).reasons).toEqual([
      'messages 1 is below the minimum 2 (messages that reached the models; 1 more were dead-lettered)',
    ]);
  });

  it('judges regression by the mean absolute difference and the error increase on labels', () => {
    const r = reportOf({
      task: 'regression',
      n: 100,
      candidate: (i) => ok(i + 2),
      champion: (i) => ok(i + 0.5),
      labels: (i) => i,
    });
    expect(judgeShadow(r, { maxMeanAbsDiff: 2 }).passed).toBe(true);
    expect(judgeShadow(r, { maxMeanAbsDiff: 1, maxErrorIncrease: { max: 1 } }).reasons).toEqual([
      'mean absolute difference 1.500 is above the maximum 1.000 (over 100 messages both models scored)',
      "candidate mae 2.000 is 1.500 above the champion's 0.500, more than the allowed 1.000 (100 labelled messages)",
    ]);
    expect(judgeShadow(r, { maxErrorIncrease: { max: 1, metric: 'rmse' } }).reasons[0]).toContain(
      'candidate rmse 2.000 is 1.500 above',
    );
  });

  it('compares classification label metrics in their better direction', () => {
    const r = reportOf({
      n: 200,
      candidate: (i) => ok(i < 170 ? 1 : 0),
      champion: (i) => ok(i < 190 ? 1 : 0),
      labels: () => 1,
    });
    expect(judgeShadow(r, { maxErrorIncrease: { max: 0.05 } }).reasons).toEqual([
      "candidate accuracy 0.850 is 0.100 below the champion's 0.950, " +
        'more than the allowed 0.050 (200 labelled messages)',
    ]);
    expect(judgeShadow(r, { maxErrorIncrease: { max: 0.2, metric: 'recall' } }).passed).toBe(true);
    expect(judgeShadow(r, { maxErrorIncrease: { max: 0.2, metric: 'mae' } }).reasons[0]).toBe(
      'mae is not a label metric of classification (they are accuracy, precision, recall, f1)',
    );
  });

  it('fails the error comparison with too few labels, and skips champion comparisons without a champion', () => {
    const labelled = reportOf({ n: 20, candidate: () => ok(1), champion: () => ok(1), labels: () => 1 });
    expect(judgeShadow(labelled, { maxErrorIncrease: { max: 0, minLabelled: 50 } }).reasons).toEqual([
      'accuracy cannot be compared: 20 candidate and 20 champion messages were labelled, fewer than the 50 required',
    ]);
    const alone = reportOf({ n: 20, candidate: () => ok(1), labels: () => 0 });
    expect(
      judgeShadow(alone, { minAgreement: 0.99, maxErrorIncrease: { max: 0 }, maxFailureRate: { champion: 0 } }),
    ).toEqual({ passed: true, reasons: [] });
  });

  it('refuses limits that cannot apply to the task, and latency limits on a model that scored nothing', () => {
    const r = reportOf({ n: 5, candidate: () => ({ failure: 'timeout' }) });
    expect(judgeShadow(r, { maxMeanAbsDiff: 1, maxP99LatencyMs: 100 }).reasons).toEqual([
      'maxMeanAbsDiff applies to regression, but this is a classification test (use minAgreement)',
      'candidate p99 latency cannot be judged: the candidate scored no message',
    ]);
  });

  it('prints figures that differ when the values do', () => {
    const r = reportOf({ n: 100_000, candidate: (i) => ok(i < 89_999 ? 1 : 0), champion: () => ok(1) });
    expect(judgeShadow(r, { minAgreement: 0.9 }).reasons).toEqual([
      'agreement 0.89999 is below the minimum 0.90000 (89999 of 100000 messages)',
    ]);
  });
});

describe('judging a shadow test at the edges', () => {
  const rates = {
    minAgreement: 0.9,
    maxFailureRate: { candidate: 0.01, champion: 0.01 },
    maxP99LatencyMs: 100,
    maxErrorIncrease: { max: 0 },
  };

  it('fails every rate threshold of a run in which no message was scored', () => {
    expect(judgeShadow(report(emptyShadowState('classification'), 0), rates).reasons).toEqual([
      'minAgreement cannot be judged: no messages scored',
      'maxFailureRate cannot be judged: no messages scored',
      'maxP99LatencyMs cannot be judged: no messages scored',
      'maxErrorIncrease cannot be judged: no messages scored',
    ]);
    expect(
      judgeShadow(report(emptyShadowState('classification'), 0), { maxFailureRate: { champion: 0.5 } }).passed,
    ).toBe(false);
    let s = emptyShadowState('regression');
    for (const offset of ['0', '1', '2']) s = applyMalformed(s, { partition: 0, offset, reason: 'not_json' });
    expect(judgeShadow(report(s, 1), { minMessages: 0, maxFailureRate: 0.5, maxMeanAbsDiff: 1 }).reasons).toEqual([
      'maxMeanAbsDiff cannot be judged: no messages scored (3 were dead-lettered)',
      'maxFailureRate cannot be judged: no messages scored (3 were dead-lettered)',
    ]);
  });

  it('takes a figure equal to its limit as within it, despite floating-point noise', () => {
    // Accuracy 0.8 against 0.7: the increase computes as 0.10000000000000009.
    const r = reportOf({
      n: 10,
      candidate: (i) => ok(i < 7 ? 1 : 0),
      champion: (i) => ok(i < 8 ? 1 : 0),
      labels: () => 1,
    });
    expect(judgeShadow(r, { maxErrorIncrease: { max: 0.1 } })).toEqual({ passed: true, reasons: [] });
    expect(judgeShadow(r, { maxErrorIncrease: { max: 0.0999999 } }).passed).toBe(false);
  });

  it('never lets a figure that is not a number pass its limit', () => {
    const r = reportOf({
      task: 'regression',
      n: 10,
      candidate: (i) => ok(i),
      champion: (i) => ok(i),
      labels: (i) => i,
    });
    const broken: ShadowReport = {
      ...r,
      comparison: { ...r.comparison, meanAbsDiff: Number.NaN },
      candidate: { ...r.candidate, metrics: { ...r.candidate.metrics, mae: Number.POSITIVE_INFINITY } },
    };
    expect(judgeShadow(broken, { maxMeanAbsDiff: 1, maxErrorIncrease: { max: 1 } }).reasons).toEqual([
      'mean absolute difference cannot be judged: it is NaN',
      "candidate mae Infinity is Infinity above the champion's 0.000, more than the allowed 1.000 " +
        '(10 labelled messages)',
    ]);
    const champion = r.champion && { ...r.champion, metrics: { ...r.champion.metrics, mae: Infinity } };
    const both = { ...broken, champion };
    expect(judgeShadow(both, { maxErrorIncrease: { max: 1 } }).reasons).toEqual([
      'mae cannot be compared: candidate Infinity and champion Infinity have no finite difference',
    ]);
  });
});
