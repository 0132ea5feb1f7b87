import { describe, expect, it } from 'vitest';
import { createRng } from '../../../examples/predictive-maintenance/data/sensors';
import {
  addAbsDifference,
  addSquaredDifference,
  emptyWideSum,
  isWideSum,
  wideSumMean,
  wideSumOf,
  wideSumRootMean,
  wideSumTotal,
} from '../../../core/shadow/wide-sum';

const roundTrip = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe('wide sums', () => {
  it('are exactly the plain double sums while the terms are ordinary', () => {
    const rng = createRng(3);
    const abs = emptyWideSum();
    const squares = emptyWideSum();
    let plainAbs = 0;
    let plainSquares = 0;
    for (let i = 0; i < 10_000; i++) {
      const a = (rng() - 0.5) * 10 ** Math.floor(rng() * 12);
      const b = (rng() - 0.5) * 100;
      addAbsDifference(abs, a, b);
      addSquaredDifference(squares, a, b);
      plainAbs += Math.abs(a - b);
      plainSquares += (a - b) * (a - b);
    }
    expect(abs.exponent).toBe(0);
    expect(wideSumTotal(abs)).toBe(plainAbs);
    expect(wideSumTotal(squares)).toBe(plainSquares);
    expect(wideSumRootMean(squares, 10_000)).toBe(Math.sqrt(plainSquares / 10_000));
  });

  it('add squares of 1e200 and differences of ±1.5e308 without overflowing', () => {
    const squares = emptyWideSum();
    for (let i = 0; i < 1000; i++) addSquaredDifference(squares, 1e200, 0);
    expect(wideSumTotal(squares)).toBe(Infinity);
    expect(wideSumRootMean(squares, 1000) / 1e200).toBeCloseTo(1, 12);
    expect(wideSumRootMean(squares, 4000) / 5e199).toBeCloseTo(1, 12);

    const diffs = emptyWideSum();
    addAbsDifference(diffs, 1.5e308, -1.5e308);
    addAbsDifference(diffs, 0, 0);
    expect(wideSumMean(diffs, 2)).toBe(1.5e308);
    expect(wideSumMean(diffs, 1)).toBe(Infinity);

    const extreme = emptyWideSum();
    addSquaredDifference(extreme, Number.MAX_VALUE, -Number.MAX_VALUE);
    expect(wideSumRootMean(extreme, 4)).toBe(Number.MAX_VALUE);
    // Huge and ordinary terms mix: the ordinary ones are below the huge one's precision.
    addSquaredDifference(extreme, 1, 0);
    expect(wideSumRootMean(extreme, 4)).toBe(Number.MAX_VALUE);
  });

  it('round-trip through JSON exactly, and tell their layout', () => {
    const s = emptyWideSum();
    for (const x of [1e200, 3e307, 1.7e308, 0.1, 5e-324]) addSquaredDifference(s, x, -x);
    expect(isWideSum(s)).toBe(true);
    expect(roundTrip(s)).toEqual(s);
    expect(wideSumRootMean(roundTrip(s), 5)).toBe(wideSumRootMean(s, 5));
    const bads = [
      null,
      0,
      { value: null, exponent: 0 },
      { value: 1, exponent: 3 },
      { value: -1, exponent: 0 },
      { value: 1 },
    ];
    for (const bad of bads) {
      expect(isWideSum(bad), JSON.stringify(bad)).toBe(false);
    }
    expect(wideSumTotal(wideSumOf(Number.MAX_VALUE))).toBe(Number.MAX_VALUE);
  });
});
