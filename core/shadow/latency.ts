/**
 * A latency histogram with fixed log-spaced buckets, as plain JSON so that a shadow test can
 * checkpoint it in a heartbeat. Buckets grow by 10% from 0.05 ms to 60 s, so a percentile read
 * from the histogram is within one bucket width of the exact value (about ±4.9% relative, since
 * it reports the bucket's geometric midpoint).
 */
export const LATENCY_MIN_MS = 0.05;
export const LATENCY_MAX_MS = 60_000;
export const LATENCY_BUCKET_RATIO = 1.1;

/** Upper bounds of the in-range buckets; bucket 0 holds [0, min), the last one [max, ∞). */
const bounds: number[] = (() => {
  const out: number[] = [];
  for (let b = LATENCY_MIN_MS; b < LATENCY_MAX_MS; b *= LATENCY_BUCKET_RATIO) out.push(b);
  out.push(LATENCY_MAX_MS);
  return out;
})();

/** Number of buckets: underflow, the log-spaced ones, overflow. */
export const LATENCY_BUCKETS = bounds.length + 1;

export interface LatencyHistogram {
  count: number;
  sumMs: number;
  /** Exact extremes; `null` while empty (JSON has no Infinity). */
  minMs: number | null;
  maxMs: number | null;
  /** Dense counts, `LATENCY_BUCKETS` long. */
  buckets: number[];
}

export function emptyLatencyHistogram(): LatencyHistogram {
  return { count: 0, sumMs: 0, minMs: null, maxMs: null, buckets: new Array<number>(LATENCY_BUCKETS).fill(0) };
}

/** Bucket `i` holds values in `[lower, upper)`. */
export function latencyBucketRange(i: number): { lower: number; upper: number } {
  return { lower: i === 0 ? 0 : (bounds[i - 1] ?? LATENCY_MAX_MS), upper: bounds[i] ?? Infinity };
}

export function latencyBucketIndex(ms: number): number {
  if (ms < LATENCY_MIN_MS) return 0;
  if (ms >= LATENCY_MAX_MS) return LATENCY_BUCKETS - 1;
  // The logarithm gives the bucket up to rounding; the bounds table settles the edges.
  let i = Math.min(
    LATENCY_BUCKETS - 2,
    Math.max(1, Math.floor(Math.log(ms / LATENCY_MIN_MS) / Math.log(LATENCY_BUCKET_RATIO)) + 1),
  );
  while (i > 1 && ms < latencyBucketRange(i).lower) i--;
  while (i < LATENCY_BUCKETS - 2 && ms >= latencyBucketRange(i).upper) i++;
  return i;
}

/** Adds one observation to a histogram the caller owns (mutates it). */
export function addLatency(h: LatencyHistogram, latencyMs: number): void {
  if (!Number.isFinite(latencyMs) || latencyMs < 0) {
    throw new RangeError(`latency must be a finite number ≥ 0 ms (got ${latencyMs})`);
  }
  const ms = latencyMs + 0; // -0 would come back from JSON as 0: checkpoints must round-trip exactly
  const i = latencyBucketIndex(ms);
  h.buckets[i] = (h.buckets[i] ?? 0) + 1;
  h.count += 1;
  h.sumMs += ms;
  h.minMs = h.minMs === null ? ms : Math.min(h.minMs, ms);
  h.maxMs = h.maxMs === null ? ms : Math.max(h.maxMs, ms);
}

/** Returns a new histogram with `ms` recorded; the argument is left as it was. */
export function recordLatency(h: LatencyHistogram, ms: number): LatencyHistogram {
  const next = { ...h, buckets: [...h.buckets] };
  addLatency(next, ms);
  return next;
}

/**
 * The nearest-rank `p`-th percentile (0 < p ≤ 100), estimated as the geometric midpoint of the
 * bucket that holds it and clamped to the observed extremes (the extremes themselves are
 * exact); `null` when empty. Values beyond
 * 60 s are reported as the observed maximum, values below 0.05 ms within 0.05 ms.
 */
export function latencyPercentile(h: LatencyHistogram, p: number): number | null {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100] (got ${p})`);
  if (h.count === 0 || h.minMs === null || h.maxMs === null) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * h.count));
  // The lowest and highest ranks are known exactly.
  if (rank === 1) return h.minMs;
  if (rank === h.count) return h.maxMs;
  let seen = 0;
  for (let i = 0; i < h.buckets.length; i++) {
    seen += h.buckets[i] ?? 0;
    if (seen < rank) continue;
    const { lower, upper } = latencyBucketRange(i);
    const estimate = i === 0 ? LATENCY_MIN_MS / 2 : Number.isFinite(upper) ? Math.sqrt(lower * upper) : h.maxMs;
    return Math.min(h.maxMs, Math.max(h.minMs, estimate));
  }
  return h.maxMs;
}

export function latencyMean(h: LatencyHistogram): number | null {
  return h.count === 0 ? null : h.sumMs / h.count;
}
