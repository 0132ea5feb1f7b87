/**
 * Comparing a figure with a bound as a user means it. Metrics pass through floating point, so
 * 0.3 − 0.2 is 0.09999999999999998: a bound met up to that noise counts as met. The tolerance is
 * 1e-9 of the largest finite magnitude among the figures compared (the value, the bound, and the
 * figures the value was computed from), far below any difference a metric can show on real data.
 */
export const RELATIVE_TOLERANCE = 1e-9;

/** The absolute slack for figures of these magnitudes; non-finite figures add none. */
export function tolerance(...figures: number[]): number {
  let largest = 0;
  for (const f of figures) if (Number.isFinite(f)) largest = Math.max(largest, Math.abs(f));
  return RELATIVE_TOLERANCE * largest;
}

/** value ≥ bound within the tolerance; `from` are the figures the value was computed from. NaN never is. */
export const atLeast = (value: number, bound: number, ...from: number[]): boolean =>
  value >= bound - tolerance(value, bound, ...from);

/** value ≤ bound within the tolerance; `from` are the figures the value was computed from. NaN never is. */
export const atMost = (value: number, bound: number, ...from: number[]): boolean =>
  value <= bound + tolerance(value, bound, ...from);
