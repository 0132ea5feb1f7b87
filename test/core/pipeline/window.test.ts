import { describe, expect, it } from 'vitest';
import { eventTime, WindowStore, windowConfig, type WindowConfig } from '../../../core/pipeline/window';
import type { WindowTransform } from '../../../core/pipeline/spec';

const spec = (window: WindowTransform['window'], aggregates: WindowTransform['aggregates']): WindowConfig =>
  windowConfig({ name: 'w', kind: 'window', input: 'a', output: 'b', key: 'm', time: 'ts', window, aggregates });
const all = spec(
  { type: 'tumbling', size: '10s' },
  {
    n: { op: 'count' },
    s: { op: 'sum', field: 'v' },
    avg: { op: 'mean', field: 'v' },
    lo: { op: 'min', field: 'v' },
    hi: { op: 'max', field: 'v' },
    last: { op: 'last', field: 'v' },
  },
);

/** Applies records in order, from offset 0; returns every closed window and every refusal. */
function feed(
  store: WindowStore,
  rows: Array<{ m: string | number; t: number; v?: unknown }>,
  from = 0,
): { closed: Record<string, unknown>[]; refused: string[] } {
  const closed: Record<string, unknown>[] = [];
  const refused: string[] = [];
  rows.forEach((r, i) => {
    const out = store.apply({ m: r.m, v: r.v ?? null }, r.t, String(from + i));
    if ('closed' in out) closed.push(...out.closed);
    else refused.push('late' in out ? out.late : out.invalid);
  });
  return { closed, refused };
}

describe('window aggregates', () => {
  it('aggregates tumbling windows per key and closes them when event time passes their end', () => {
    const store = new WindowStore(all);
    const { closed, refused } = feed(store, [
      { m: 'a', t: 1000, v: 2 },
      { m: 'b', t: 2000, v: 10 },
      { m: 'a', t: 9999, v: 4 },
      { m: 'a', t: 5000, v: null },
      { m: 'a', t: 10_000, v: 1 },
    ]);
    expect(refused).toEqual([]);
    expect(closed).toEqual([
      {
        m: 'a',
        window_start: '1970-01-01T00:00:00.000Z',
        window_end: '1970-01-01T00:00:10.000Z',
        n: 3,
        s: 6,
        avg: 3,
        lo: 2,
        hi: 4,
        last: 4,
      },
      {
        m: 'b',
        window_start: '1970-01-01T00:00:00.000Z',
        window_end: '1970-01-01T00:00:10.000Z',
        n: 1,
        s: 10,
        avg: 10,
        lo: 10,
        hi: 10,
        last: 10,
      },
    ]);
    expect(store.openWindows()).toBe(1);
  });

  it('puts a record in every hopping window that contains it', () => {
    const store = new WindowStore(spec({ type: 'hopping', size: '10s', advance: '5s' }, { n: { op: 'count' } }));
    const { closed } = feed(store, [
      { m: 'a', t: 7000 },
      { m: 'a', t: 12_000 },
      { m: 'a', t: 30_000 },
    ]);
    expect(closed.map((w) => [w.window_start, w.n])).toEqual([
      ['1970-01-01T00:00:00.000Z', 1],
      ['1970-01-01T00:00:05.000Z', 2],
      ['1970-01-01T00:00:10.000Z', 1],
    ]);
  });

  it('waits the grace period for late records, then refuses them as late', () => {
    const store = new WindowStore(spec({ type: 'tumbling', size: '10s', grace: '2s' }, { n: { op: 'count' } }));
    const first = feed(store, [
      { m: 'a', t: 9000 },
      { m: 'a', t: 11_000 },
      { m: 'a', t: 8000 }, // within grace: still counted
    ]);
    expect(first.closed).toEqual([]);
    const second = feed(
      store,
      [
        { m: 'a', t: 12_000 }, // closes [0, 10) at 12 s
        { m: 'a', t: 3000 }, // too late
      ],
      3,
    );
    expect(second.closed).toEqual([
      { m: 'a', window_start: '1970-01-01T00:00:00.000Z', window_end: '1970-01-01T00:00:10.000Z', n: 2 },
    ]);
    expect(second.refused).toEqual([
      'late: event time 1970-01-01T00:00:03.000Z is in windows already closed ' +
        '(watermark 1970-01-01T00:00:12.000Z, grace 2000 ms)',
    ]);
  });

  it('gives the same windows when restored from a snapshot at any record', () => {
    const rows = Array.from({ length: 200 }, (_, i) => ({
      m: `k${i % 7}`,
      t: i * 700 + ((i * 37) % 1500),
      v: (i * 13) % 11,
    }));
    const whole = feed(new WindowStore(all), rows).closed;
    for (const cut of [1, 50, 133, 199]) {
      const a = new WindowStore(all);
      const before = feed(a, rows.slice(0, cut)).closed;
      // Through JSON, as the changelog stores it.
      const restored = new WindowStore(all, JSON.parse(JSON.stringify(a.snapshot())));
      expect(restored.nextOffset).toBe(String(cut));
      expect(restored.includes(String(cut - 1))).toBe(true);
      expect(restored.includes(String(cut))).toBe(false);
      const after = feed(restored, rows.slice(cut), cut).closed;
      expect([...before, ...after]).toEqual(whole);
    }
  });

  it('keeps the value with the latest event time for last, and refuses sums that would overflow', () => {
    const store = new WindowStore(all);
    const { closed, refused } = feed(store, [
      { m: 'a', t: 5000, v: 1e308 },
      { m: 'a', t: 4000, v: 1e308 },
      { m: 'a', t: 3000, v: 5 },
      { m: 'a', t: 20_000, v: 0 },
    ]);
    expect(refused).toEqual(['s: the sum of "v" would overflow']);
    expect(closed[0]).toMatchObject({ n: 2, s: 1e308 + 5, lo: 5, hi: 1e308, last: 1e308 });
  });

  it('refuses records without a usable key or value, and keeps numeric and text keys apart', () => {
    const store = new WindowStore(all);
    const { closed, refused } = feed(store, [
      { m: 1, t: 0, v: 1 },
      { m: '1', t: 0, v: 2 },
      { m: null as unknown as string, t: 0, v: 1 },
      { m: 'a', t: 0, v: 'hot' },
      { m: 'a', t: 10_000, v: 1 },
    ]);
    expect(refused).toEqual(['key field "m" is missing', 'field "v" is "hot", not a finite number']);
    expect(closed.map((w) => [w.m, w.s])).toEqual([
      [1, 1],
      ['1', 2],
    ]);
  });

  it('reads event times as epoch ms or ISO 8601 text only', () => {
    expect(eventTime(1000, 'ts')).toBe(1000);
    expect(eventTime('2026-01-01T00:00:10Z', 'ts')).toBe(Date.UTC(2026, 0, 1, 0, 0, 10));
    expect(eventTime('2026-01-01T00:00:10.250+01:00', 'ts')).toBe(Date.UTC(2025, 11, 31, 23, 0, 10, 250));
    expect(eventTime('March 7', 'ts')).toBe('event time "ts" is "March 7", not ISO 8601 text');
    expect(eventTime(null, 'ts')).toBe('event time "ts" is missing');
    expect(eventTime(Number.NaN, 'ts')).toBe('event time "ts" is not a finite number');
  });

  it('refuses a snapshot of another layout', () => {
    expect(() => new WindowStore(all, { version: 2 } as never)).toThrow('window snapshot version: is 2');
    const other = new WindowStore(spec({ type: 'tumbling', size: '10s' }, { n: { op: 'count' } }));
    feed(other, [{ m: 'a', t: 1 }]);
    expect(() => new WindowStore(all, other.snapshot())).toThrow('its aggregates differ');
  });
});
