import { describe, expect, it } from 'vitest';
import { evaluateGate, evaluateGates } from '../../../core/evaluation/gates';

describe('promotion gates', () => {
  it('checks an absolute threshold in the metric’s better direction', () => {
    expect(evaluateGate({ metric: 'roc_auc', threshold: 0.8, greater_is_better: true }, { roc_auc: 0.85 }, null).passed).toBe(true);
    const low = evaluateGate({ metric: 'roc_auc', threshold: 0.8, greater_is_better: true }, { roc_auc: 0.79 }, null);
    expect(low.passed).toBe(false);
    expect(low.reasons).toEqual(['roc_auc: candidate 0.79 is below the threshold 0.8']);
    const rmse = evaluateGate({ metric: 'rmse', threshold: 2, greater_is_better: false }, { rmse: 2.5 }, null);
    expect(rmse.reasons[0]).toBe('rmse: candidate 2.5 is above the threshold 2');
  });

  it('compares with the champion by absolute and relative change, naming both values', () => {
    const gate = { metric: 'roc_auc', min_absolute_change: 0.01, min_relative_change: 0.02, greater_is_better: true };
    const worse = evaluateGate(gate, { roc_auc: 0.85 }, { roc_auc: 0.9 });
    expect(worse.passed).toBe(false);
    expect(worse.candidate).toBe(0.85);
    expect(worse.champion).toBe(0.9);
    expect(worse.reasons[0]).toContain('roc_auc: candidate 0.85 vs champion 0.9');
    expect(worse.reasons).toHaveLength(2);
    expect(evaluateGate(gate, { roc_auc: 0.95 }, { roc_auc: 0.9 }).passed).toBe(true);
    // 0.91 is +0.01 absolute (enough) but +1.1% relative (not enough).
    const relative = evaluateGate(gate, { roc_auc: 0.91 }, { roc_auc: 0.9 });
    expect(relative.reasons).toHaveLength(1);
    expect(relative.reasons[0]).toContain('less than the required 2%');
  });

  it('treats lower-is-better metrics symmetrically', () => {
    const gate = { metric: 'mae', min_absolute_change: 0, greater_is_better: false };
    expect(evaluateGate(gate, { mae: 1.0 }, { mae: 1.2 }).passed).toBe(true);
    expect(evaluateGate(gate, { mae: 1.3 }, { mae: 1.2 }).passed).toBe(false);
  });

  it('skips champion comparisons when there is no champion, but not thresholds', () => {
    const { passed, results } = evaluateGates(
      [
        { metric: 'roc_auc', min_absolute_change: 0.5, greater_is_better: true },
        { metric: 'accuracy', threshold: 0.9, greater_is_better: true },
      ],
      { roc_auc: 0.7, accuracy: 0.95 },
      null,
    );
    expect(passed).toBe(true);
    expect(results.map((r) => r.passed)).toEqual([true, true]);
  });

  it('fails a gate whose metric the candidate lacks', () => {
    const r = evaluateGate({ metric: 'roc_auc', threshold: 0.5, greater_is_better: true }, { roc_auc: null }, null);
    expect(r.passed).toBe(false);
    expect(r.reasons[0]).toContain('no value');
  });
});
