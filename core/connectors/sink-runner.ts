import type { ConsumedRecord } from '../kafka/adapter';
import { runGroup, type PartitionStatus } from '../kafka/transactions';
import { MloopError } from '../errors';
import { deadLetter } from '../pipeline/dead-letter';
import { parseRecord, recordProblem } from '../pipeline/fields';
import type { ValidatedPipeline } from '../pipeline/validate';

/**
 * Drains a topic into a sink through the sink's own consumer group: each batch is written,
 * then its offsets are committed, so a record is written at least once. A sink that goes
 * away makes its writer throw; the batch is then fetched and written again after a pause, so
 * records wait rather than vanish. Records the sink refuses for good (or that are not JSON
 * objects with the topic's fields) go to the pipeline's dead-letter topic with the reason.
 */
export interface SinkRow {
  record: ConsumedRecord;
  row: Record<string, unknown>;
}

export interface SinkWriter {
  /** Called when this sink starts on a partition, before its first batch. */
  acquire?(partition: number): Promise<void>;
  /** Writes the rows, or throws when the sink is unavailable; returns the rows it refused for good. */
  write(rows: SinkRow[], signal: AbortSignal): Promise<Array<{ record: ConsumedRecord; reason: string }>>;
  close?(): Promise<void>;
}

export interface SinkStatus {
  pipeline: string;
  sink: string;
  written: number;
  deadLettered: number;
  /** Failed attempts at a batch (each retried). */
  errors: number;
  lastError: string | null;
  partitions: PartitionStatus[];
}

export interface SinkRunOptions {
  brokers: string[];
  pipeline: ValidatedPipeline;
  sink: string;
  writer: SinkWriter;
  signal: AbortSignal;
  onStatus?: (s: SinkStatus) => void;
  statusIntervalMs?: number;
  sessionTimeoutMs?: number;
}

export const sinkGroupId = (pipeline: string, sink: string): string => `mloop.${pipeline}.sink.${sink}`;

export async function runSink(o: SinkRunOptions): Promise<SinkStatus> {
  const spec = o.pipeline.spec.sinks?.find((s) => s.name === o.sink);
  if (!spec)
    throw new MloopError('NotFound', `pipeline ${o.pipeline.spec.name} has no sink ${o.sink}`, { field: 'sink' });
  const fields = o.pipeline.fields[spec.topic] ?? {};
  const counts = { written: 0, deadLettered: 0, errors: 0 };
  let lastError: string | null = null;
  const group = await runGroup({
    brokers: o.brokers,
    clientId: `mloop-${o.pipeline.spec.name}-sink-${spec.name}`,
    groupId: sinkGroupId(o.pipeline.spec.name, spec.name),
    topic: spec.topic,
    guarantee: 'at-least-once',
    transactionalId: `mloop.${o.pipeline.spec.name}.sink.${spec.name}`,
    signal: o.signal,
    sessionTimeoutMs: o.sessionTimeoutMs,
    concurrency: o.pipeline.topics.find((t) => t.name === spec.topic)?.partitions ?? 1,
    onError: (err) => {
      counts.errors++;
      lastError = err instanceof Error ? err.message : String(err);
    },
    processor: {
      acquire: async (partition) => o.writer.acquire?.(partition),
      release: () => {},
      async process(batch, signal) {
        const rows: SinkRow[] = [];
        const dead = [];
        for (const record of batch.records) {
          const parsed = parseRecord(record.value);
          const problem = 'problem' in parsed ? parsed.problem : recordProblem(parsed.record, fields);
          if (problem !== null || !('record' in parsed))
            dead.push(deadLetter(record, spec.name, problem ?? 'not a JSON object'));
          else rows.push({ record, row: parsed.record });
        }
        const refused = rows.length > 0 ? await o.writer.write(rows, signal) : [];
        for (const r of refused) dead.push(deadLetter(r.record, spec.name, r.reason));
        return {
          outgoing: [{ topic: o.pipeline.deadLetterTopic, records: dead }],
          committed: () => {
            counts.written += rows.length - refused.length;
            counts.deadLettered += dead.length;
          },
        };
      },
    },
  });
  const status = (): SinkStatus => ({
    pipeline: o.pipeline.spec.name,
    sink: spec.name,
    ...counts,
    lastError,
    partitions: group.status(),
  });
  const timer = setInterval(() => o.onStatus?.(status()), o.statusIntervalMs ?? 1000);
  try {
    await group.done;
  } finally {
    clearInterval(timer);
    await o.writer.close?.();
  }
  const last = status();
  o.onStatus?.(last);
  return last;
}
