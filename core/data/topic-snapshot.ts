import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { MloopError, invalidInput } from '../errors';
import type { KafkaPort, PartitionRange } from '../kafka/adapter';
import { maxJsonDepth, parseJsonObject } from './bounded-json';

/** Where a replay starts or ends: explicit offsets per partition, or a point in time. */
export interface TopicPosition {
  offsets?: Record<string, number>;
  timestamp?: string;
}

export interface TopicRangeSpec {
  topic: string;
  /** Default: the earliest stored offset of each partition. */
  from?: TopicPosition;
  /** Default: the end of each partition when the snapshot starts (recorded, so reruns match). */
  to?: TopicPosition;
}

export interface TopicSnapshot {
  file: string;
  records: number;
  /** The exact ranges read; with them a rerun reads the same records. */
  ranges: PartitionRange[];
  columns: string[];
}

/** Resolves a range spec to explicit `[from, to)` offsets per partition. */
export async function resolveRanges(kafka: KafkaPort, spec: TopicRangeSpec): Promise<PartitionRange[]> {
  const watermarks = await kafka.partitionOffsets(spec.topic).catch((err: unknown) => {
    throw new MloopError(
      'DatasetInvalid',
      `dataset.kafka.topic: cannot read topic "${spec.topic}": ${(err as Error).message}`,
      { field: 'dataset.kafka.topic' },
    );
  });
  const at = async (
    pos: TopicPosition | undefined,
    field: string,
    fallback: 'low' | 'high',
  ): Promise<Map<number, bigint>> => {
    const out = new Map<number, bigint>();
    if (pos?.offsets && pos.timestamp) throw invalidInput(field, 'give offsets or a timestamp, not both');
    if (pos?.timestamp) {
      const ms = Date.parse(pos.timestamp);
      if (Number.isNaN(ms))
        throw invalidInput(`${field}.timestamp`, `is not an ISO-8601 time (got "${pos.timestamp}")`);
      for (const o of await kafka.offsetsAtTimestamp(spec.topic, ms)) out.set(o.partition, BigInt(o.offset));
      // Past the last record, Kafka answers -1: that partition has nothing at or after the time.
      for (const w of watermarks) if ((out.get(w.partition) ?? -1n) < 0n) out.set(w.partition, BigInt(w.high));
      return out;
    }
    for (const w of watermarks) out.set(w.partition, BigInt(w[fallback]));
    if (pos?.offsets) {
      for (const [p, offset] of Object.entries(pos.offsets)) {
        const partition = Number(p);
        const w = watermarks.find((x) => x.partition === partition);
        if (!w) throw invalidInput(`${field}.offsets`, `topic "${spec.topic}" has no partition ${p}`);
        if (!Number.isInteger(offset) || offset < 0)
          throw invalidInput(`${field}.offsets.${p}`, `must be a non-negative integer (got ${offset})`);
        if (BigInt(offset) < BigInt(w.low) || BigInt(offset) > BigInt(w.high)) {
          throw invalidInput(
            `${field}.offsets.${p}`,
            `offset ${offset} is outside the stored range ${w.low}..${w.high} of partition ${p}`,
          );
        }
        out.set(partition, BigInt(offset));
      }
    }
    return out;
  };
  const from = await at(spec.from, 'dataset.kafka.from', 'low');
  const to = await at(spec.to, 'dataset.kafka.to', 'high');
  return watermarks.map((w) => {
    const f = from.get(w.partition) ?? BigInt(w.low);
    const t = to.get(w.partition) ?? BigInt(w.high);
    if (t < f) throw invalidInput('dataset.kafka', `partition ${w.partition}: end ${t} is before start ${f}`);
    return { partition: w.partition, from: f.toString(), to: t.toString() };
  });
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Replays a topic range into a CSV file, records ordered by partition then offset, columns the
 * sorted union of the records' fields. The same range gives the same bytes, hence the same
 * fingerprint. Records that are not JSON objects (or nest deeper than `maxJsonDepth`) fail the
 * snapshot with their positions.
 */
export async function snapshotTopic(
  kafka: KafkaPort,
  spec: TopicRangeSpec,
  outFile: string,
  signal?: AbortSignal,
): Promise<TopicSnapshot> {
  const ranges = await resolveRanges(kafka, spec);
  const byPartition = new Map<number, Record<string, unknown>[]>();
  const bad: string[] = [];
  let badCount = 0;
  await kafka.readRanges(
    spec.topic,
    ranges,
    async (records) => {
      for (const r of records) {
        const parsed = parseJsonObject(r.value);
        if (!parsed.ok) {
          badCount++;
          if (bad.length < 10) bad.push(`partition ${r.partition} offset ${r.offset}: ${parsed.reason}`);
          continue;
        }
        const list = byPartition.get(r.partition) ?? [];
        list.push(parsed.value);
        byPartition.set(r.partition, list);
      }
    },
    signal,
  );
  if (badCount > 0) {
    const records = badCount === 1 ? '1 record is not a JSON object' : `${badCount} records are not JSON objects`;
    const what = `topic "${spec.topic}": ${records} of at most ${maxJsonDepth} levels`;
    throw new MloopError('DatasetInvalid', `${what}: ${bad.join('; ')}`, { badRecords: badCount });
  }
  const rows = [...byPartition.keys()].sort((a, b) => a - b).flatMap((p) => byPartition.get(p) ?? []);
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))].sort();
  await fs.mkdir(path.dirname(outFile), { recursive: true });
  const tmp = `${outFile}.tmp-${randomUUID()}`;
  const out = createWriteStream(tmp);
  const write = async (line: string): Promise<void> => {
    if (!out.write(line)) await once(out, 'drain');
  };
  await write(`${columns.map(csvCell).join(',')}\n`);
  for (const row of rows) await write(`${columns.map((c) => csvCell(row[c])).join(',')}\n`);
  out.end();
  await once(out, 'finish');
  await fs.rename(tmp, outFile);
  return { file: outFile, records: rows.length, ranges, columns };
}
