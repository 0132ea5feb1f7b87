import { describe, expect, it } from 'vitest';
import { MloopError } from '../../../core/errors';
import { alreadyApplied, applyLabel, applyScored, emptyShadowState, resumeShadow, shadowCheckpoint, type ShadowState } from '../../../core/shadow/metrics';
import { labelledMessages } from './streams';

const asJson = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

function sampleState(): ShadowState {
  const messages = labelledMessages('classification', 300, 3);
  let s = applyScored(emptyShadowState('classification'), messages.map((m) => m.message));
  s = applyLabel(s, messages.slice(0, 100).map(({ message, label }, i) => ({ key: message.key ?? '', label, timestampMs: message.timestampMs, partition: 0, offset: String(i) })));
  return s;
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
    const good = asJson(shadowCheckpoint(sampleState())) as { offsets: Record<string, string>; state: Record<string, unknown> };
    const cases: [unknown, string][] = [
      [null, 'not a shadow checkpoint'],
      [{ ...good, offsets: { ...good.offsets, '0': '999999' } }, 'differ from the state'],
      [{ ...good, offsets: { ...good.offsets, '0': 'x' } }, 'decimal offsets'],
      [{ ...good, state: { ...good.state, version: 2 } }, 'this code reads 1'],
      [{ ...good, state: { ...good.state, task: 'ranking' } }, 'unknown task'],
      [{ ...good, state: { ...good.state, candidate: { latency: { buckets: [1, 2] } } } }, 'buckets'],
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

  it('stays small and fast at its default bounds', () => {
    const messages = labelledMessages('classification', 5000, 9);
    const full = applyScored(emptyShadowState('classification'), messages.map((m) => m.message));
    expect(full.pendingPredictions).toHaveLength(5000);
    // Temporal refuses payloads over 2 MB; a full checkpoint must stay well below.
    expect(JSON.stringify(shadowCheckpoint(full)).length).toBeLessThan(1_000_000);
    const next = labelledMessages('classification', 500, 10).map((m, i) => ({ ...m.message, key: `n-${i}`, offset: String(10_000 + i) }));
    const started = performance.now();
    for (let i = 0; i < 20; i++) applyScored(full, next);
    expect((performance.now() - started) / 20).toBeLessThan(50);
  });
});
