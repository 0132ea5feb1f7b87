/**
 * Promotion gates in the manner of MLflow's MetricThreshold: a candidate passes a gate when its
 * metric clears an absolute threshold and improves on the champion by at least an absolute and a
 * relative margin. Pure functions, so the same code decides in workers, the API and tests.
 */
export interface Gate {
  metric: string;
  threshold?: number;
  min_absolute_change?: number;
  min_relative_change?: number;
  greater_is_better: boolean;
}

export interface GateResult {
  metric: string;
  passed: boolean;
  candidate: number | null;
  champion: number | null;
  /** Every failed condition, each naming the metric and the values compared. */
  reasons: string[];
}

const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(4).replace(/0+$/, '').replace(/\.$/, ''));

export function evaluateGate(gate: Gate, candidate: Record<string, number | null>, champion: Record<string, number | null> | null): GateResult {
  const c = candidate[gate.metric] ?? null;
  const ch = champion ? (champion[gate.metric] ?? null) : null;
  const reasons: string[] = [];
  const better = gate.greater_is_better ? 'higher' : 'lower';
  if (c === null || !Number.isFinite(c)) {
    reasons.push(`${gate.metric}: the candidate has no value for this metric`);
    return { metric: gate.metric, passed: false, candidate: null, champion: ch, reasons };
  }
  if (gate.threshold !== undefined) {
    const ok = gate.greater_is_better ? c >= gate.threshold : c <= gate.threshold;
    if (!ok) reasons.push(`${gate.metric}: candidate ${fmt(c)} is ${gate.greater_is_better ? 'below' : 'above'} the threshold ${fmt(gate.threshold)}`);
  }
  // Changes are measured against the champion on the same holdout; with no champion they are moot.
  if (ch !== null && Number.isFinite(ch)) {
    const gain = gate.greater_is_better ? c - ch : ch - c;
    if (gate.min_absolute_change !== undefined && gain < gate.min_absolute_change) {
      reasons.push(
        `${gate.metric}: candidate ${fmt(c)} vs champion ${fmt(ch)} changes by ${fmt(gain)} in the better (${better}) direction, less than the required ${fmt(gate.min_absolute_change)}`,
      );
    }
    if (gate.min_relative_change !== undefined) {
      const relative = ch === 0 ? (gain > 0 ? Infinity : 0) : gain / Math.abs(ch);
      if (relative < gate.min_relative_change) {
        reasons.push(
          `${gate.metric}: candidate ${fmt(c)} vs champion ${fmt(ch)} changes by ${fmt(relative * 100)}% in the better (${better}) direction, less than the required ${fmt(gate.min_relative_change * 100)}%`,
        );
      }
    }
  }
  return { metric: gate.metric, passed: reasons.length === 0, candidate: c, champion: ch, reasons };
}

export function evaluateGates(gates: Gate[], candidate: Record<string, number | null>, champion: Record<string, number | null> | null): { passed: boolean; results: GateResult[] } {
  const results = gates.map((g) => evaluateGate(g, candidate, champion));
  return { passed: results.every((r) => r.passed), results };
}
