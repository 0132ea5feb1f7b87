import { describe, expect, it } from 'vitest';
import { createRng } from '../../../examples/predictive-maintenance/data/sensors';
import {
  LATENCY_BUCKETS,
  LATENCY_BUCKET_RATIO,
  LATENCY_MAX_MS,
  addLatency,
  emptyLatencyHistogram,
  latencyBucketIndex,
  latencyBucketRange,
  latencyMean,
  latencyPercentile,
  recordLatency,
} from '../../../core/shadow/latency';

/** Nearest-rank percentile of the raw samples. */
function exactPercentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1] ?? NaN;
}

const histogramOf = (samples: number[]) => {
  const h = emptyLatencyHistogram();
  for (const s of samples) addLatency(h, s);
  return h;
};

// The geometric midpoint of a bucket is within √1.1 − 1 ≈ 4.9% of anything in it.
const maxRelativeError = Math.sqrt(LATENCY_BUCKET_RATIO) - 1 + 1e-12;

describe('latency histogram', () => {
  it('estimates p50/p95/p99 within one bucket width of the exact values', () => {
    const rng = createRng(11);
    const distributions: Record<string, () => number> = {
      'log-uniform 0.1 ms .. 10 s': () => 0.1 * Math.exp(rng() * Math.log(100_000)),
      'lognormal around 20 ms': () =>
        20 * Math.exp(0.8 * Math.sqrt(-2 * Math.log(Math.max(rng(), 1e-12))) * Math.cos(2 * Math.PI * rng())),
      'bimodal 2 ms / 300 ms': () => (rng() < 0.9 ? 2 + rng() : 300 + 100 * rng()),
    };
    for (const [name, draw] of Object.entries(distributions)) {
      for (const n of [1, 7, 100, 20_000]) {
        const samples = Array.from({ length: n }, draw);
        const h = histogramOf(samples);
        for (const p of [50, 95, 99, 100]) {
          const exact = exactPercentile(samples, p);
          const estimate = latencyPercentile(h, p);
          expect(estimate, `${name}, n=${n}, p${p}`).not.toBeNull();
          expect(
            Math.abs((estimate ?? NaN) - exact) / exact,
            `${name}, n=${n}, p${p}: ${estimate} vs ${exact}`,
          ).toBeLessThanOrEqual(maxRelativeError);
        }
      }
    }
  });

  it('keeps count, mean and exact extremes', () => {
    const h = histogramOf([3, 1, 2, 10]);
    expect(h.count).toBe(4);
    expect(latencyMean(h)).toBe(4);
    expect([h.minMs, h.maxMs]).toEqual([1, 10]);
    expect(latencyPercentile(h, 100)).toBe(10);
    expect(latencyPercentile(h, 1)).toBe(1);
  });

  it('reports values below 0.05 ms within 0.05 ms and values above 60 s as the maximum', () => {
    const tiny = histogramOf([0.001, 0.01, 0.02, 0.049]);
    expect(Math.abs((latencyPercentile(tiny, 50) ?? NaN) - 0.01)).toBeLessThan(0.05);
    const huge = histogramOf([70_000, 90_000, 80_000]);
    expect(latencyPercentile(huge, 50)).toBe(90_000);
    expect(latencyPercentile(huge, 99)).toBe(90_000);
  });

  it('has contiguous buckets, and every value lands in the bucket whose range holds it', () => {
    expect(latencyBucketRange(0).lower).toBe(0);
    expect(latencyBucketRange(LATENCY_BUCKETS - 1)).toEqual({ lower: LATENCY_MAX_MS, upper: Infinity });
    for (let i = 1; i < LATENCY_BUCKETS; i++) {
      const { lower, upper } = latencyBucketRange(i);
      expect(lower).toBe(latencyBucketRange(i - 1).upper);
      if (i < LATENCY_BUCKETS - 1) expect(upper / lower).toBeLessThanOrEqual(LATENCY_BUCKET_RATIO + 1e-9);
      expect(latencyBucketIndex(lower)).toBe(i);
      expect(latencyBucketIndex(lower * (1 - 1e-12))).toBe(i - 1);
    }
    expect(LATENCY_BUCKETS).toBeLessThan(200);
  });

  it('is plain JSON, and recordLatency leaves its argument alone', () => {
    const h = histogramOf([1, 2, 3]);
    const copy = JSON.parse(JSON.stringify(h)) as typeof h;
    expect(copy).toEqual(h);
    const next = recordLatency(copy, 500);
    expect(copy).toEqual(h);
    expect(next.count).toBe(4);
    expect(latencyPercentile(next, 100)).toBe(500);
  });

  it('is empty until something is recorded, and rejects nonsense', () => {
    const h = emptyLatencyHistogram();
    expect(latencyPercentile(h, 99)).toBeNull();
    expect(latencyMean(h)).toBeNull();
    expect(() => addLatency(h, -1)).toThrow(RangeError);
    expect(() => addLatency(h, NaN)).toThrow(RangeError);
    expect(() => latencyPercentile(h, 0)).toThrow(RangeError);
    expect(() => latencyPercentile(h, 101)).toThrow(RangeError);
    expect(h.count).toBe(0);
  });
});
