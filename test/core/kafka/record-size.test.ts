import { describe, expect, it } from 'vitest';
import { batchBytes, clipUtf8, fitRecord, recordBytes } from '../../../core/kafka/record-size';

describe('record sizes as the broker counts them', () => {
  it('counts the batch header, varint lengths and headers', () => {
    // 61-byte header; record: length 1, attributes 1, deltas 1+1, key -1 (1), value 0 (1), no headers (1).
    expect(batchBytes([{ key: null, value: '' }])).toBe(61 + 1 + 6);
    // Key: length 1 and a byte instead of -1 (+1); value: length 2 and two bytes instead of length 0 (+2).
    expect(recordBytes({ key: 'k', value: 'é' }) - recordBytes({ key: null, value: '' })).toBe(3);
    const value = (n: number): number => recordBytes({ key: null, value: 'x'.repeat(n) });
    expect(value(64) - value(63)).toBe(2); // a byte, and a second byte of length from 64 on
    expect(recordBytes({ key: null, value: '', headers: { a: 'bc' } })).toBe(recordBytes({ key: null, value: '' }) + 5);
    // Later records of a batch carry larger offset deltas.
    expect(recordBytes({ key: null, value: '' }, 64)).toBe(recordBytes({ key: null, value: '' }) + 1);
  });

  it('clips text on whole characters', () => {
    expect(clipUtf8('aé€😀', 100)).toBe('aé€😀');
    expect(clipUtf8('aé€😀', 2)).toBe('a');
    expect(clipUtf8('aé€😀', 3)).toBe('aé');
    expect(clipUtf8('aé€😀', 9)).toBe('aé€');
    expect(clipUtf8('aé€😀', 0)).toBe('');
    expect(clipUtf8('', 5)).toBe('');
  });

  it('leaves a record that fits alone, and clips value, then key, to fit the limit', () => {
    const small = { key: 'k', value: 'v', headers: { h: '1' } };
    expect(fitRecord(small, 1000)).toBe(small);

    const bigValue = fitRecord({ key: 'k', value: '€'.repeat(10_000) }, 2000);
    expect(batchBytes([bigValue])).toBeLessThanOrEqual(2000);
    expect(batchBytes([bigValue])).toBeGreaterThan(1980);
    const marks = { 'mloop-truncated': 'true', 'mloop-original-value-bytes': '30000' };
    expect(bigValue).toMatchObject({ key: 'k', headers: marks });

    // A huge key with a small value (a shadow output): the key gives way, the value stays whole.
    const bigKey = fitRecord({ key: 'k'.repeat(10_000), value: '{"prediction":1}' }, 2000);
    expect(bigKey.value).toBe('{"prediction":1}');
    expect(batchBytes([bigKey])).toBeLessThanOrEqual(2000);
    expect(bigKey.headers?.['mloop-original-key-bytes']).toBe('10000');

    // Both huge: the key keeps 256 bytes, the value the rest.
    const both = fitRecord({ key: 'k'.repeat(10_000), value: 'v'.repeat(10_000) }, 2000);
    expect(both.key).toBe('k'.repeat(256));
    expect(batchBytes([both])).toBeLessThanOrEqual(2000);
    expect(fitRecord({ key: null, value: 'v'.repeat(5000) }, 1000).key).toBeNull();
    expect(() => fitRecord({ key: null, value: 'v', headers: { big: 'x'.repeat(500) } }, 300)).toThrow(RangeError);
  });
});
