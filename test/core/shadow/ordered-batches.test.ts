import { describe, expect, it } from 'vitest';
import { orderedBatches } from '../../../core/shadow/ordered-batches';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('ordered batches', () => {
  it('runs work side by side, commits in admission order, and holds at most `limit` in flight', async () => {
    const b = orderedBatches(2, () => undefined);
    const committed: number[] = [];
    let running = 0;
    let maxRunning = 0;
    const work = (n: number, ms: number) => async () => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      await sleep(ms);
      running -= 1;
      return n;
    };
    for (const [n, ms] of [
      [0, 60],
      [1, 0],
      [2, 30],
      [3, 0],
    ] as const) {
      expect(await b.admit(work(n, ms), (r) => void committed.push(r))).toBe(true);
      expect(b.inFlight()).toBeLessThanOrEqual(2);
    }
    await b.drain();
    expect(committed).toEqual([0, 1, 2, 3]);
    expect(maxRunning).toBe(2);
    expect(b.inFlight()).toBe(0);
  });

  it('commits nothing after a failure, reports it once, and refuses what comes next', async () => {
    const failures: unknown[] = [];
    const b = orderedBatches(3, (err) => failures.push(err));
    const committed: string[] = [];
    await b.admit(
      async () => 'a',
      (r) => void committed.push(r),
    );
    await b.admit(
      async () => {
        await sleep(20);
        throw new Error('b failed');
      },
      (r: string) => void committed.push(r),
    );
    await b.admit(
      async () => 'c',
      (r) => void committed.push(r),
    );
    await expect(b.drain()).rejects.toThrow('b failed');
    expect(committed).toEqual(['a']);
    expect(failures).toHaveLength(1);
    await expect(
      b.admit(
        async () => 'd',
        () => undefined,
      ),
    ).rejects.toThrow('b failed');
  });

  it('answers false to an admission waiting for room once closed, and still commits what is in flight', async () => {
    const b = orderedBatches(1, () => undefined);
    const committed: string[] = [];
    await b.admit(
      async () => {
        await sleep(30);
        return 'a';
      },
      (r) => void committed.push(r),
    );
    const waiting = b.admit(
      async () => 'b',
      (r) => void committed.push(r),
    );
    b.close();
    expect(await waiting).toBe(false);
    await b.drain();
    expect(committed).toEqual(['a']);
  });

  it('refuses a limit that is not a positive integer', () => {
    for (const limit of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => orderedBatches(limit, () => undefined)).toThrow('limit must be an integer ≥ 1');
    }
  });
});
