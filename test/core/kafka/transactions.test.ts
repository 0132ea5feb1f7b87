import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { coalesced, keyCachingPartitioner } from '../../../core/kafka/transactions';

const metadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));

describe('coalesced', () => {
  it('answers calls made together with one read', async () => {
    let reads = 0;
    const read = coalesced(async () => ++reads);
    const answers = await Promise.all([read(), read(), read()]);
    expect(answers).toEqual([1, 1, 1]);
    expect(reads).toBe(1);
  });

  it('never answers a call with a read that started before it', async () => {
    let reads = 0;
    let release!: () => void;
    const read = coalesced(async () => {
      const n = ++reads;
      if (n === 1) await new Promise<void>((resolve) => (release = resolve));
      return n;
    });
    const first = read();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads).toBe(1); // the first read is under way
    const later = [read(), read()];
    release();
    expect(await first).toBe(1);
    expect(await Promise.all(later)).toEqual([2, 2]);
    expect(reads).toBe(2);
  });

  it('gives a failed read to its callers only, and reads again for the next', async () => {
    let reads = 0;
    const read = coalesced(async () => {
      if (++reads === 1) throw new Error('coordinator moved');
      return reads;
    });
    await expect(Promise.all([read(), read()])).rejects.toThrow('coordinator moved');
    expect(await read()).toBe(2);
  });
});

describe('keyCachingPartitioner', () => {
  it("puts every key where kafkajs's default partitioner does, for any partition count", () => {
    const cached = keyCachingPartitioner();
    const plain = Partitioners.DefaultPartitioner();
    // prettier-ignore
    const keys = [
      '', 'm-001', 'ünïcode ✓', 'x'.repeat(300),
      ...Array.from({ length: 500 }, (_, i) => `machine-${i}`),
    ];
    for (const n of [1, 3, 7, 64]) {
      for (const key of [...keys, ...keys]) {
        const args = { topic: 't', partitionMetadata: metadata(n), message: { key, value: 'v' } };
        expect(cached(args)).toBe(plain(args));
      }
    }
  });

  it('keeps an explicit partition, and spreads keyless records as the default does', () => {
    const cached = keyCachingPartitioner();
    expect(
      cached({ topic: 't', partitionMetadata: metadata(3), message: { key: 'k', value: 'v', partition: 2 } }),
    ).toBe(2);
    const seen = new Set<number>();
    for (let i = 0; i < 30; i++)
      seen.add(cached({ topic: 't', partitionMetadata: metadata(3), message: { key: null, value: 'v' } }));
    expect([...seen].sort()).toEqual([0, 1, 2]);
  });

  it('stays right past its cache limit (more distinct keys than it keeps)', () => {
    const cached = keyCachingPartitioner();
    const plain = Partitioners.DefaultPartitioner();
    for (let i = 0; i < 25_000; i++) {
      const args = { topic: 't', partitionMetadata: metadata(5), message: { key: `k${i % 12_000}`, value: 'v' } };
      expect(cached(args)).toBe(plain(args));
    }
  });
});
