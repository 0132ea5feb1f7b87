/**
 * Sums of non-negative terms that cannot overflow, for error and difference totals: a sum is
 * `value × 2^exponent`, with `value` a finite double below 2^960 and `exponent` a multiple of 64.
 * Squared errors of 1e200, or differences between ±1.5e308, add up to their true total instead
 * of Infinity; only a figure derived from the sum that is itself beyond the double range (a mean
 * above 1.8e308) comes out non-finite. While every term is an ordinary double the exponent stays
 * 0 and the sum is exactly the plain double sum. Plain JSON of finite numbers, so a checkpoint
 * round-trips it exactly.
 */
export interface WideSum {
  value: number;
  exponent: number;
}

export const WIDE_SUM_STEP = 64;
const HIGH = 2 ** 960;

export const emptyWideSum = (): WideSum => ({ value: 0, exponent: 0 });

/** x × 2^k, exact unless the result leaves the double range (powers of two up to 2^±1000 are exact). */
function scale2(x: number, k: number): number {
  let out = x;
  let rest = k;
  for (; rest > 1000; rest -= 1000) out *= 2 ** 1000;
  for (; rest < -1000; rest += 1000) out *= 2 ** -1000;
  return out * 2 ** rest;
}

/** Adds `m × 2^q` (m finite and ≥ 0) to a sum the caller owns. */
function addScaled(s: WideSum, m: number, q: number): void {
  let term = scale2(m, q - s.exponent);
  if (!(term < HIGH)) {
    // Raise the exponent until the term fits (m < 2^1024, so 2^64 of headroom is enough).
    const exponent = Math.ceil((q + WIDE_SUM_STEP) / WIDE_SUM_STEP) * WIDE_SUM_STEP;
    s.value = scale2(s.value, s.exponent - exponent);
    s.exponent = exponent;
    term = scale2(m, q - exponent);
  }
  s.value += term;
  while (s.value >= HIGH) {
    s.value = scale2(s.value, -WIDE_SUM_STEP);
    s.exponent += WIDE_SUM_STEP;
  }
}

/** Adds |a − b| for finite a and b, even when a − b is beyond the double range. */
export function addAbsDifference(s: WideSum, a: number, b: number): void {
  const d = a - b;
  if (Number.isFinite(d)) addScaled(s, Math.abs(d), 0);
  else addScaled(s, Math.abs(a / 2 - b / 2), 1);
}

/** Adds (a − b)² for finite a and b, even when it is beyond the double range. */
export function addSquaredDifference(s: WideSum, a: number, b: number): void {
  const d = a - b;
  if (Number.isFinite(d * d)) {
    addScaled(s, d * d, 0);
    return;
  }
  // (a − b)² = (h × 2^521)² with h = (a/2 − b/2) × 2^-520 below 2^504, whose square is a double.
  const h = scale2(Math.abs(a / 2 - b / 2), -520);
  addScaled(s, h * h, 1042);
}

/** The total as a double: Infinity when it is beyond the double range. */
export const wideSumTotal = (s: WideSum): number => scale2(s.value, s.exponent);

/** total / n; Infinity only when the mean itself is beyond the double range. */
export const wideSumMean = (s: WideSum, n: number): number => scale2(s.value / n, s.exponent);

/** √(total / n), computed without forming total / n, so a root mean square of huge errors stays finite. */
export const wideSumRootMean = (s: WideSum, n: number): number => scale2(Math.sqrt(s.value / n), s.exponent / 2);

/** A finite, non-negative sum in this layout, as a checkpoint must hold it. */
export const isWideSum = (x: unknown): x is WideSum => {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const { value, exponent } = x as Record<string, unknown>;
  return (
    Object.keys(x).length === 2 &&
    typeof value === 'number' &&
    Number.isFinite(value) &&
    value >= 0 &&
    value < HIGH &&
    Number.isSafeInteger(exponent) &&
    (exponent as number) >= 0 &&
    (exponent as number) % WIDE_SUM_STEP === 0
  );
};

/** A plain total (e.g. from an older checkpoint) as a wide sum; it must be finite and ≥ 0. */
export function wideSumOf(total: number): WideSum {
  const s = emptyWideSum();
  addScaled(s, total, 0);
  return s;
}
