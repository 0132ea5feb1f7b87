import { describe, expect, it } from 'vitest';
import { evaluateGate, evaluateGates } from '../../../core/evaluation/gates';

describe('promotion gates', () => {
  it('checks an absolute threshold in the metric’s better direction', () => {
    expect(
      evaluateGate({ metric: 'roc_auc', threshold: 0.8, greater_is_better: true }, { roc_auc: 0.85 }, null).passed,
    ).toBe(true);
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

describe('promotion gates at the edges', () => {
  const relative = (min: number) => ({ metric: 'r2', min_relative_change: min, greater_is_better: true });

  it('fails a worse candidate against a champion of 0, and passes a tie only when no gain is required', () => {
    const worse = evaluateGate(relative(0), { r2: -0.5 }, { r2: 0 });
    expect(worse.passed).toBe(false);
    expect(worse.reasons).toEqual([
      'r2: candidate -0.5 vs champion 0 is worse in the better (higher) direction; against a champion of 0 ' +
        'any worsening fails a relative change',
    ]);
    const mae = { metric: 'mae', min_relative_change: 0, greater_is_better: false };
    expect(evaluateGate(mae, { mae: 0.2 }, { mae: 0 }).passed).toBe(false);
    expect(evaluateGate(relative(0), { r2: 0 }, { r2: 0 }).passed).toBe(true);
    expect(evaluateGate(relative(0.05), { r2: 0 }, { r2: 0 }).reasons).toEqual([
      "r2: candidate 0 equals the champion's 0; against a champion of 0 only an improvement meets the required " +
        'relative change of 5%',
    ]);
    expect(evaluateGate(relative(0.05), { r2: 1e-6 }, { r2: 0 }).passed).toBe(true);
    expect(evaluateGate(relative(0.05), { r2: 1e-6 }, { r2: -0 }).passed).toBe(true);
  });

  it('fails change conditions when the champion has no value for the metric, but still judges thresholds', () => {
    const gate = { metric: 'roc_auc', threshold: 0.9, min_absolute_change: 0, greater_is_better: true };
    const champions: Array<Record<string, number | null>> = [{ roc_auc: null }, {}, { roc_auc: Number.NaN }];
    for (const champion of champions) {
      const r = evaluateGate(gate, { roc_auc: 0.8 }, champion);
      expect(r.passed).toBe(false);
      expect(r.champion).toBeNull();
      expect(r.reasons).toEqual([
        'roc_auc: candidate 0.8 is below the threshold 0.9',
        'roc_auc: the champion has no value for this metric, so the change the gate requires cannot be measured',
      ]);
    }
    const thresholdOnly = { metric: 'roc_auc', threshold: 0.5, greater_is_better: true };
    expect(evaluateGate(thresholdOnly, { roc_auc: 0.8 }, { roc_auc: null }).passed).toBe(true);
  });

  it('takes ties as met despite floating-point noise, within 1e-9 of the magnitudes compared', () => {
    const absolute = (min: number) => ({ metric: 'accuracy', min_absolute_change: min, greater_is_better: true });
    expect(0.3 - 0.2).toBeLessThan(0.1);
    expect(evaluateGate(absolute(0.1), { accuracy: 0.3 }, { accuracy: 0.2 }).passed).toBe(true);
    expect(evaluateGate(absolute(0.1000001), { accuracy: 0.3 }, { accuracy: 0.2 }).passed).toBe(false);
    // 0.1 + 0.2 is 0.30000000000000004: at the threshold 0.3 of a lower-is-better metric.
    const maeAtMost = { metric: 'mae', threshold: 0.3, greater_is_better: false };
    expect(evaluateGate(maeAtMost, { mae: 0.1 + 0.2 }, null).passed).toBe(true);
    expect(evaluateGate(maeAtMost, { mae: 0.3000001 }, null).passed).toBe(false);
    // (0.3 − 0.2) / 0.2 is 0.4999999999999999.
    expect(evaluateGate(relative(0.5), { r2: 0.3 }, { r2: 0.2 }).passed).toBe(true);
    expect(evaluateGate(relative(0.5000001), { r2: 0.3 }, { r2: 0.2 }).passed).toBe(false);
  });

  it('judges changes that overflow, and never lets a non-finite value pass', () => {
    const absolute = { metric: 'r2', min_absolute_change: 0, greater_is_better: true };
    expect(evaluateGate(absolute, { r2: -1e308 }, { r2: 1e308 }).passed).toBe(false);
    expect(evaluateGate(absolute, { r2: 1e308 }, { r2: -1e308 }).passed).toBe(true);
    expect(evaluateGate(absolute, { r2: Number.POSITIVE_INFINITY }, { r2: 0 }).passed).toBe(false);
  });
});
