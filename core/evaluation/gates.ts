import { atLeast, atMost } from './compare';

/**
 * Promotion gates in the manner of MLflow's MetricThreshold: a candidate passes a gate when its
 * metric clears an absolute threshold and improves on the champion by at least an absolute and a
 * relative margin. Pure functions, so the same code decides in workers, the API and tests.
 *
 * Outcomes at the edges (python/README.md, "gates"): with no champion the change conditions are
 * moot; a champion without a finite value for the metric fails them; against a champion of 0 the
 * relative change of any improvement is +∞, of any worsening −∞, of a tie 0; every comparison
 * allows the tolerance of `compare.ts`.
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

type Metrics = Record<string, number | null>;

function fmt(x: number): string {
  if (Number.isInteger(x)) return String(x);
  const fixed = x.toFixed(4).replace(/0+$/, '').replace(/\.$/, '');
  // A small figure must not print as 0 beside the bound it misses.
  return fixed === '0' || fixed === '-0' ? x.toPrecision(4) : fixed;
}

const finiteOrNull = (x: number | null | undefined): number | null =>
  typeof x === 'number' && Number.isFinite(x) ? x : null;

function thresholdReason(gate: Gate, c: number): string | null {
  if (gate.threshold === undefined) return null;
  const t = gate.threshold;
  if (gate.greater_is_better ? atLeast(c, t) : atMost(c, t)) return null;
  return `${gate.metric}: candidate ${fmt(c)} is ${gate.greater_is_better ? 'below' : 'above'} the threshold ${fmt(t)}`;
}

function absoluteReason(gate: Gate, c: number, ch: number, gain: number): string | null {
  const min = gate.min_absolute_change;
  if (min === undefined || atLeast(gain, min, c, ch)) return null;
  const better = gate.greater_is_better ? 'higher' : 'lower';
  return (
    `${gate.metric}: candidate ${fmt(c)} vs champion ${fmt(ch)} changes by ${fmt(gain)} in the better (${better}) ` +
    `direction, less than the required ${fmt(min)}`
  );
}

function relativeReason(gate: Gate, c: number, ch: number, gain: number): string | null {
  const min = gate.min_relative_change;
  if (min === undefined) return null;
  const better = gate.greater_is_better ? 'higher' : 'lower';
  const required = `${fmt(min * 100)}%`;
  if (ch === 0) {
    // gain is ±c exactly here, so no tolerance applies: its sign decides.
    if (gain > 0 || (gain === 0 && min === 0)) return null;
    if (gain < 0) {
      return (
        `${gate.metric}: candidate ${fmt(c)} vs champion 0 is worse in the better (${better}) direction; ` +
        'against a champion of 0 any worsening fails a relative change'
      );
    }
    return (
      `${gate.metric}: candidate ${fmt(c)} equals the champion's 0; against a champion of 0 only an improvement ` +
      `meets the required relative change of ${required}`
    );
  }
  // Compared as gain ≥ min × |champion|, so the tolerance is that of the figures themselves.
  if (atLeast(gain, min * Math.abs(ch), c, ch)) return null;
  return (
    `${gate.metric}: candidate ${fmt(c)} vs champion ${fmt(ch)} changes by ${fmt((gain / Math.abs(ch)) * 100)}% ` +
    `in the better (${better}) direction, less than the required ${required}`
  );
}

export function evaluateGate(gate: Gate, candidate: Metrics, champion: Metrics | null): GateResult {
  const c = finiteOrNull(candidate[gate.metric]);
  const ch = champion ? finiteOrNull(champion[gate.metric]) : null;
  const result = (reasons: Array<string | null>): GateResult => {
    const failed = reasons.filter((r): r is string => r !== null);
    return { metric: gate.metric, passed: failed.length === 0, candidate: c, champion: ch, reasons: failed };
  };
  if (c === null) return result([`${gate.metric}: the candidate has no value for this metric`]);
  const reasons = [thresholdReason(gate, c)];
  const comparesChampion = gate.min_absolute_change !== undefined || gate.min_relative_change !== undefined;
  // Changes are measured against the champion on the same holdout; with no champion they are moot.
  if (champion && comparesChampion) {
    if (ch === null) {
      reasons.push(
        `${gate.metric}: the champion has no value for this metric, so the change the gate requires cannot be measured`,
      );
    } else {
      const gain = gate.greater_is_better ? c - ch : ch - c;
      reasons.push(absoluteReason(gate, c, ch, gain), relativeReason(gate, c, ch, gain));
    }
  }
  return result(reasons);
}

export function evaluateGates(
  gates: Gate[],
  candidate: Metrics,
  champion: Metrics | null,
): { passed: boolean; results: GateResult[] } {
  const results = gates.map((g) => evaluateGate(g, candidate, champion));
  return { passed: results.every((r) => r.passed), results };
}
