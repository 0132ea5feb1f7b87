import { describe, expect, it } from 'vitest';
import { chunksBySize, maxRecordsPerSend, type StreamRecord } from '../../../core/kafka/adapter';
import { batchBytes } from '../../../core/kafka/record-size';

const records = (n: number, valueBytes = 10): StreamRecord[] =>
  Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: 'v'.repeat(valueBytes), headers: { h: String(i) } }));

describe('produce: records per send', () => {
  it('sends many small records in pieces of at most maxRecordsPerSend, in order', () => {
    const input = records(2 * maxRecordsPerSend + 7);
    const chunks = [...chunksBySize(input, 1_048_588)];
    expect(chunks.map((c) => c.length)).toEqual([maxRecordsPerSend, maxRecordsPerSend, 7]);
    expect(chunks.flat()).toEqual(input);
  });

  it('still splits by bytes first when records are large, and every piece fits the limit', () => {
    const input = records(40, 10_000);
    const limit = 100_000;
    const chunks = [...chunksBySize(input, limit)];
    expect(chunks.length).toBeGreaterThan(4);
    for (const c of chunks) expect(batchBytes(c)).toBeLessThanOrEqual(limit);
    expect(chunks.flat()).toEqual(input);
  });

  it('sends nothing for no records, and one record alone', () => {
    expect([...chunksBySize([], 1000)]).toEqual([]);
    expect([...chunksBySize(records(1), 1000)]).toEqual([records(1)]);
  });
});
