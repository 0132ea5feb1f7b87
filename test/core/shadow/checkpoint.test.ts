import { describe, expect, it } from 'vitest';
import { MloopError } from '../../../core/errors';
import {
  alreadyApplied,
  applyLabel,
  applyScored,
  emptyShadowState,
  report,
  resumeShadow,
  shadowCheckpoint,
  type ShadowState,
} from '../../../core/shadow/metrics';
import { wideSumTotal } from '../../../core/shadow/wide-sum';
import { labelledMessages } from './streams';

const asJson = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

function sampleState(): ShadowState {
  const messages = labelledMessages('classification', 300, 3);
  let s = applyScored(
    emptyShadowState('classification'),
    messages.map((m) => m.message),
  );
  s = applyLabel(
    s,
    messages.slice(0, 100).map(({ message, label }, i) => ({
      key: message.key ?? '',
      label,
      timestampMs: message.timestampMs,
      partition: 0,
      offset: String(i),
    })),
  );
  return s;
}

function regressionState(): ShadowState {
  const messages = labelledMessages('regression', 200, 4);
  const s = applyScored(
    emptyShadowState('regression'),
    messages.map((m) => m.message),
  );
  const labels = messages.map(({ message, label }, i) => {
    return { key: message.key, label, timestampMs: message.timestampMs, partition: 0, offset: String(i) };
  });
  return applyLabel(s, [...labels, { key: 'x', label: 'high', timestampMs: 1, partition: 0, offset: '200' }]);
}

/** The checkpoint as the previous layout (version 1) wrote it: plain sums, one invalid-label count, no watermarks. */
function asV1(state: ShadowState) {
  const { newestTimestamps: _newest, ...rest } = state;
  const labels = (l: ShadowState['candidate']['labels']) => ({
    ...l,
    sumAbsError: wideSumTotal(l.sumAbsError) as number | null,
    sumSquaredError: wideSumTotal(l.sumSquaredError) as number | null,
  });
  const v1 = {
    ...rest,
    version: 1,
    candidate: { ...state.candidate, labels: labels(state.candidate.labels) },
    champion: { ...state.champion, labels: labels(state.champion.labels) },
    comparison: { ...state.comparison, sumAbsDiff: wideSumTotal(state.comparison.sumAbsDiff) },
    join: { ...state.join, invalidLabels: Object.values(state.join.invalidLabels).reduce((a, b) => a + b, 0) },
  };
  return asJson({ offsets: state.offsets, labelOffsets: state.labelOffsets, state: v1 }) as {
    offsets: object;
    labelOffsets: object;
    state: typeof v1;
  };
}

describe('shadow checkpoints', () => {
  it('carries the next offset of every partition, for seeking, next to the state', () => {
    const s = sampleState();
    const cp = shadowCheckpoint(s);
    const total = Object.values(cp.offsets).reduce((a, o) => a + Number(o), 0);
    expect(Object.keys(cp.offsets).sort()).toEqual(['0', '1', '2']);
    expect(total).toBe(300);
    expect(cp.labelOffsets).toEqual({ '0': '100' });
  });

  it('resumes from heartbeat JSON to the same state, which then skips what it already counted', () => {
    const s = sampleState();
    const resumed = resumeShadow(asJson(shadowCheckpoint(s)));
    expect(resumed.state).toEqual(s);
    expect(resumed.offsets).toEqual(s.offsets);
    const [partition, next] = Object.entries(resumed.offsets)[0] ?? ['0', '0'];
    expect(alreadyApplied(resumed.state, Number(partition), String(BigInt(next) - 1n))).toBe(true);
    expect(alreadyApplied(resumed.state, Number(partition), next)).toBe(false);
    expect(alreadyApplied(resumed.state, 7, '0')).toBe(false);
  });

  it('refuses checkpoints that would not resume exactly, as non-retryable InvalidInput', () => {
    const good = asJson(shadowCheckpoint(sampleState())) as {
      offsets: Record<string, string>;
      state: Record<string, Record<string, unknown>>;
    };
    const candidate = good.state.candidate ?? {};
    const cases: [unknown, string][] = [
      [null, 'not a shadow checkpoint'],
      [{ ...good, offsets: { ...good.offsets, '0': '999999' } }, 'differ from the state'],
      [{ ...good, offsets: { ...good.offsets, '0': 'x' } }, 'decimal offsets'],
      [{ ...good, state: { ...good.state, version: 3 } }, 'this code reads 2'],
      [{ ...good, state: { ...good.state, task: 'ranking' } }, 'unknown task'],
      [
        {
          ...good,
          state: {
            ...good.state,
            candidate: { ...candidate, latency: { ...(candidate.latency as object), buckets: [1, 2] } },
          },
        },
        'buckets',
      ],
    ];
    for (const [details, message] of cases) {
      let thrown: unknown;
      try {
        resumeShadow(details);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, message).toBeInstanceOf(MloopError);
      expect((thrown as MloopError).code).toBe('InvalidInput');
      expect((thrown as MloopError).message).toContain(message);
    }
  });

  it('refuses a checkpoint whose accumulators JSON turned into null, naming the field, instead of reading 0', () => {
    type Loose = {
      state: {
        candidate: { labels: Record<string, unknown> };
        join: Record<string, unknown>;
        pendingPredictions: unknown[];
      };
    };
    const good = asJson(shadowCheckpoint(regressionState())) as Loose;
    const broken = structuredClone(good);
    broken.state.candidate.labels.sumSquaredError = { value: null, exponent: 0 };
    expect(() => resumeShadow(broken)).toThrow(
      'checkpoint.state.candidate.labels.sumSquaredError: must be a sum {value, exponent}',
    );
    const uncounted = structuredClone(good);
    uncounted.state.join.joined = null;
    expect(() => resumeShadow(uncounted)).toThrow('checkpoint.state.join.joined: must be a count, got null');
    const pending = structuredClone(good);
    pending.state.pendingPredictions.unshift({ key: 'x', timestampMs: null, candidate: 1, champion: null });
    expect(() => resumeShadow(pending)).toThrow(
      'checkpoint.state.pendingPredictions.0.timestampMs: must be a finite number',
    );
  });

  it('upgrades an intact version-1 checkpoint to the same figures, and refuses one that lost an overflowed sum', () => {
    const s = regressionState();
    const v1 = asV1(s);
    const upgraded = resumeShadow(v1).state;
    expect(report(upgraded, 1)).toEqual(report(s, 1));
    expect(upgraded.version).toBe(2);
    // What version 1 wrote once a squared error overflowed: JSON turned Infinity into null.
    const lost = asV1(s);
    lost.state.candidate.labels.sumSquaredError = null;
    let thrown: unknown;
    try {
      resumeShadow(lost);
    } catch (err) {
      thrown = err;
    }
    expect((thrown as MloopError).code).toBe('InvalidInput');
    expect((thrown as MloopError).message).toBe(
      'checkpoint.state.candidate.labels.sumSquaredError: is null: ' +
        'this version-1 checkpoint lost a sum that overflowed, so the test cannot resume exactly',
    );
  });

  it('stays small at its default bounds, also after more records arrive', () => {
    const messages = labelledMessages('classification', 5000, 9);
    const full = applyScored(
      emptyShadowState('classification'),
      messages.map((m) => m.message),
    );
    expect(full.pendingPredictions).toHaveLength(5000);
    // Temporal refuses payloads over 2 MB; a full checkpoint must stay well below.
    expect(JSON.stringify(shadowCheckpoint(full)).length).toBeLessThan(1_000_000);
    const next = labelledMessages('classification', 500, 10).map((m, i) => ({
      ...m.message,
      key: `n-${i}`,
      offset: String(10_000 + i),
    }));
    // How fast it applies is the shadow benchmark's business (bench/shadow-throughput.ts), not a timed test's.
    const after = applyScored(full, next);
    expect(after.pendingPredictions.length).toBeLessThanOrEqual(5000);
    expect(JSON.stringify(shadowCheckpoint(after)).length).toBeLessThan(1_000_000);
  });
});
