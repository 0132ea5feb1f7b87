import { once } from 'node:events';
import fs from 'node:fs/promises';
import type { KafkaPort, PartitionRange } from '../kafka/adapter';
import { MloopError } from '../errors';

export interface LiveWindowRequest {
  topic: string;
  eventTimeField: string;
  /** `[start, end)` in event time. */
  start: Date;
  end: Date;
  /** Where the records go, one JSON object a line. */
  file: string;
  /** Records are read from this long before `start` by broker time, for producers' clock skew. */
  skewMs?: number;
}

export interface LiveWindow {
  rows: number;
  /** Records of the range read that could not be used: not a JSON object, or no readable event time. */
  unreadable: number;
  /** Records of the range whose event time lay outside the window. */
  outside: number;
  ranges: PartitionRange[];
}

/** An event time as ISO-8601 text or epoch milliseconds; NaN when it is neither. */
export function eventTimeOf(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : NaN;
  if (typeof value === 'string' && value.trim() !== '')
    return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : Date.parse(value);
  return NaN;
}

/**
 * Reads the records whose event time falls in the window into a JSON-lines file. A record's
 * broker timestamp comes at or after its event (less clock skew), so the read starts at the
 * offsets of `start - skew` and ends at the end of each partition now: late records that have
 * already arrived count, records from before the window are never read.
 */
export async function readLiveWindow(kafka: KafkaPort, req: LiveWindowRequest): Promise<LiveWindow> {
  const watermarks = await kafka.partitionOffsets(req.topic).catch((err: unknown) => {
    throw new MloopError('InvalidInput', `input.topic: cannot read topic "${req.topic}": ${(err as Error).message}`, {
      field: 'input.topic',
    });
  });
  const from = await kafka.offsetsAtTimestamp(req.topic, req.start.getTime() - (req.skewMs ?? 60_000));
  const ranges = watermarks
    .map((w) => {
      const at = from.find((f) => f.partition === w.partition)?.offset;
      // -1: nothing at or after that time in this partition.
      const start = at === undefined || BigInt(at) < 0n ? w.high : BigInt(at) < BigInt(w.low) ? w.low : at;
      return { partition: w.partition, from: start, to: w.high };
    })
    .filter((r) => BigInt(r.to) > BigInt(r.from));
  // Opened before anything is read: an existing file is an error now, not a stream error later.
  const out = (await fs.open(req.file, 'wx')).createWriteStream();
  const result: LiveWindow = { rows: 0, unreadable: 0, outside: 0, ranges };
  const [start, end] = [req.start.getTime(), req.end.getTime()];
  try {
    if (ranges.length === 0) return result;
    await kafka.readRanges(req.topic, ranges, async (records) => {
      const lines: string[] = [];
      for (const r of records) {
        let value: unknown;
        try {
          value = JSON.parse(r.value);
        } catch {
          value = undefined;
        }
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          result.unreadable++;
          continue;
        }
        const t = eventTimeOf((value as Record<string, unknown>)[req.eventTimeField]);
        if (Number.isNaN(t)) result.unreadable++;
        else if (t < start || t >= end) result.outside++;
        else {
          result.rows++;
          lines.push(JSON.stringify(value));
        }
      }
      if (lines.length > 0 && !out.write(`${lines.join('\n')}\n`)) await once(out, 'drain');
    });
  } finally {
    out.end();
    await once(out, 'close');
  }
  return result;
}
