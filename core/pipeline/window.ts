import { invalidInput } from '../errors';
import { durationMs, type WindowTransform } from './spec';
import { windowEndField, windowStartField } from './transform-fields';

/**
 * Tumbling and hopping window aggregates per key, by event time, for the records of one input
 * partition. Everything is decided record by record from the partition's own event time (its
 * watermark is the largest event time seen), so a replay of the same records gives the same
 * windows whatever the batch boundaries: that is what lets a restart resume from a snapshot
 * without losing or double-counting. A window closes, and is emitted, once the watermark
 * reaches its end plus the grace period; a record that only falls into closed windows is late.
 */
export type AggregateOp = 'count' | 'sum' | 'mean' | 'min' | 'max' | 'last';

export interface WindowConfig {
  key: string;
  time?: string;
  sizeMs: number;
  advanceMs: number;
  graceMs: number;
  aggregates: Array<{ name: string; op: AggregateOp; field?: string }>;
}

export function windowConfig(t: WindowTransform): WindowConfig {
  const sizeMs = durationMs(t.window.size);
  return {
    key: t.key,
    ...(t.time !== undefined ? { time: t.time } : {}),
    sizeMs,
    advanceMs: t.window.type === 'hopping' && t.window.advance ? durationMs(t.window.advance) : sizeMs,
    graceMs: t.window.grace ? durationMs(t.window.grace) : 0,
    aggregates: Object.entries(t.aggregates).map(([name, a]) => ({
      name,
      op: a.op as AggregateOp,
      ...(a.field ? { field: a.field } : {}),
    })),
  };
}

interface Accumulator {
  n: number;
  sum: number;
  min: number | null;
  max: number | null;
  last: unknown;
  lastTime: number | null;
}

interface OpenWindow {
  key: string;
  keyValue: string | number;
  start: number;
  accs: Accumulator[];
}

/** The serialisable state of one partition's windows: what the changelog keeps. */
export interface WindowSnapshot {
  version: 1;
  /** Every record below this offset is in the state; none at or above it. */
  nextOffset: string | null;
  watermark: number | null;
  windows: OpenWindow[];
}

export const WINDOW_SNAPSHOT_VERSION = 1;

export const emptySnapshot = (): WindowSnapshot => ({
  version: WINDOW_SNAPSHOT_VERSION,
  nextOffset: null,
  watermark: null,
  windows: [],
});

export type Applied = { late: string } | { invalid: string } | { closed: Record<string, unknown>[] };

const emptyAcc = (): Accumulator => ({ n: 0, sum: 0, min: null, max: null, last: null, lastTime: null });

/** The event time of a record in ms, or the reason it has none. */
export function eventTime(value: unknown, field: string): number | string {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? value : `event time "${field}" is not a finite number`;
  }
  if (typeof value === 'string') {
    // Only ISO 8601 forms: Date.parse also takes free text such as "March 7".
    if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
      const ms = Date.parse(value);
      if (Number.isFinite(ms)) return ms;
    }
    return `event time "${field}" is ${JSON.stringify(value).slice(0, 40)}, not ISO 8601 text`;
  }
  return value === null || value === undefined
    ? `event time "${field}" is missing`
    : `event time "${field}" is not a time`;
}

export class WindowStore {
  private readonly byStart = new Map<number, Map<string, OpenWindow>>();
  /** Open window starts, ascending. */
  private starts: number[] = [];
  private watermark: number | null;
  nextOffset: string | null;

  constructor(
    private readonly config: WindowConfig,
    snapshot: WindowSnapshot = emptySnapshot(),
  ) {
    if (snapshot.version !== WINDOW_SNAPSHOT_VERSION) {
      throw invalidInput(
        'window snapshot version',
        `is ${String(snapshot.version)}, this code reads ${WINDOW_SNAPSHOT_VERSION}`,
      );
    }
    this.watermark = snapshot.watermark;
    this.nextOffset = snapshot.nextOffset;
    for (const w of snapshot.windows) {
      if (w.accs.length !== config.aggregates.length)
        throw invalidInput('window snapshot', 'its aggregates differ from the transform’s');
      this.slot(w.start).set(w.key, { ...w, accs: w.accs.map((a) => ({ ...a })) });
    }
  }

  /** Whether the state already holds this record (it was applied before a restart). */
  includes(offset: string): boolean {
    return this.nextOffset !== null && BigInt(offset) < BigInt(this.nextOffset);
  }

  openWindows(): number {
    let n = 0;
    for (const m of this.byStart.values()) n += m.size;
    return n;
  }

  snapshot(): WindowSnapshot {
    const windows: OpenWindow[] = [];
    for (const start of this.starts) {
      const m = this.byStart.get(start) as Map<string, OpenWindow>;
      for (const key of [...m.keys()].sort()) windows.push(m.get(key) as OpenWindow);
    }
    return {
      version: WINDOW_SNAPSHOT_VERSION,
      nextOffset: this.nextOffset,
      watermark: this.watermark,
      windows: structuredClone(windows),
    };
  }

  /**
   * Adds one record at `offset` with event time `time`; returns the windows it closed, or why
   * it was not applied. Nothing changes when it is not applied (but the offset still moves).
   */
  apply(record: Record<string, unknown>, time: number, offset: string): Applied {
    this.nextOffset = (BigInt(offset) + 1n).toString();
    const keyValue = record[this.config.key];
    if (typeof keyValue !== 'string' && typeof keyValue !== 'number') {
      const what = keyValue === null || keyValue === undefined ? 'missing' : 'not a string or number';
      return { invalid: `key field "${this.config.key}" is ${what}` };
    }
    const key = typeof keyValue === 'string' ? `s:${keyValue}` : `n:${keyValue}`;
    const { sizeMs, advanceMs, graceMs } = this.config;
    const open: number[] = [];
    for (let start = Math.floor(time / advanceMs) * advanceMs; start > time - sizeMs; start -= advanceMs) {
      if (this.watermark === null || start + sizeMs + graceMs > this.watermark) open.push(start);
    }
    if (open.length === 0) {
      const when = new Date(time).toISOString();
      const watermark = new Date(this.watermark as number).toISOString();
      return {
        late: `late: event time ${when} is in windows already closed (watermark ${watermark}, grace ${graceMs} ms)`,
      };
    }
    // Compute every update first, so a record that would overflow changes nothing.
    const updates: Array<{ start: number; accs: Accumulator[] }> = [];
    for (const start of open) {
      const current = this.byStart.get(start)?.get(key)?.accs ?? this.config.aggregates.map(emptyAcc);
      const next = this.config.aggregates.map((a, i) => accumulate(current[i] as Accumulator, a, record, time));
      const bad = next.find((x): x is string => typeof x === 'string');
      if (bad) return { invalid: bad };
      updates.push({ start, accs: next as Accumulator[] });
    }
    for (const u of updates) this.slot(u.start).set(key, { key, keyValue, start: u.start, accs: u.accs });
    if (this.watermark === null || time > this.watermark) this.watermark = time;
    return { closed: this.close() };
  }

  private slot(start: number): Map<string, OpenWindow> {
    let m = this.byStart.get(start);
    if (!m) {
      m = new Map();
      this.byStart.set(start, m);
      // Starts mostly arrive in order: insert from the end.
      let i = this.starts.length;
      while (i > 0 && (this.starts[i - 1] as number) > start) i--;
      this.starts.splice(i, 0, start);
    }
    return m;
  }

  private close(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    const { sizeMs, graceMs } = this.config;
    while (
      this.starts.length > 0 &&
      this.watermark !== null &&
      (this.starts[0] as number) + sizeMs + graceMs <= this.watermark
    ) {
      const start = this.starts.shift() as number;
      const m = this.byStart.get(start) as Map<string, OpenWindow>;
      this.byStart.delete(start);
      for (const key of [...m.keys()].sort()) out.push(this.output(m.get(key) as OpenWindow));
    }
    return out;
  }

  private output(w: OpenWindow): Record<string, unknown> {
    const out: Record<string, unknown> = {
      [this.config.key]: w.keyValue,
      [windowStartField]: new Date(w.start).toISOString(),
      [windowEndField]: new Date(w.start + this.config.sizeMs).toISOString(),
    };
    this.config.aggregates.forEach((a, i) => {
      const acc = w.accs[i] as Accumulator;
      out[a.name] = result(a.op, acc);
    });
    return out;
  }
}

function accumulate(
  acc: Accumulator,
  a: WindowConfig['aggregates'][number],
  record: Record<string, unknown>,
  time: number,
): Accumulator | string {
  if (a.field === undefined) return { ...acc, n: acc.n + 1 };
  const v = Object.hasOwn(record, a.field) ? record[a.field] : null;
  if (v === null || v === undefined) return acc;
  if (a.op === 'count') return { ...acc, n: acc.n + 1 };
  if (a.op === 'last') {
    // The latest event time wins; on a tie the later record (offset order).
    return acc.lastTime === null || time >= acc.lastTime
      ? { ...acc, n: acc.n + 1, last: v, lastTime: time }
      : { ...acc, n: acc.n + 1 };
  }
  if (typeof v !== 'number' || !Number.isFinite(v))
    return `field "${a.field}" is ${JSON.stringify(v).slice(0, 40)}, not a finite number`;
  const sum = acc.sum + v;
  if (!Number.isFinite(sum)) return `${a.name}: the sum of "${a.field}" would overflow`;
  return {
    ...acc,
    n: acc.n + 1,
    sum,
    min: acc.min === null ? v : Math.min(acc.min, v),
    max: acc.max === null ? v : Math.max(acc.max, v),
  };
}

function result(op: AggregateOp, acc: Accumulator): unknown {
  switch (op) {
    case 'count':
      return acc.n;
    case 'sum':
      return acc.n === 0 ? null : acc.sum;
    case 'mean':
      return acc.n === 0 ? null : acc.sum / acc.n;
    case 'min':
      return acc.min;
    case 'max':
      return acc.max;
    case 'last':
      return acc.last;
  }
}
