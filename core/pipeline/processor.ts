import { createKafka, runGroup, type Outgoing, type PartitionStatus } from '../kafka/transactions';
import { MloopError } from '../errors';
import { createStage, type ModelEndpoint } from './stages';
import type { ValidatedPipeline } from './validate';

export type { ModelEndpoint } from './stages';

/**
 * A stream processor: one replica of one transform of a pipeline. It consumes the transform's
 * input topic in batches through the transform's own consumer group (replicas share its
 * partitions), applies the transform, and produces to its output topic, with bad records to
 * the pipeline's dead-letter topic, under the pipeline's guarantee. It runs until `signal`
 * aborts and reports a checkpoint every second for the caller to heartbeat.
 */
export interface ProcessorCounts {
  /** Input records processed (each counted once per commit). */
  consumed: number;
  produced: number;
  deadLettered: number;
  filtered: number;
  /** Failed batches (retried) and failed model requests (retried). */
  errors: number;
}

export interface ProcessorCheckpoint {
  pipeline: string;
  transform: string;
  counts: ProcessorCounts;
  partitions: PartitionStatus[];
  /** Input records per second over the last interval. */
  messagesPerSecond: number;
  lastError: string | null;
  openWindows?: number;
}

export interface ProcessorOptions {
  brokers: string[];
  pipeline: ValidatedPipeline;
  transform: string;
  /** Which replica this is, for client IDs and logs. */
  replica?: number;
  /** Required for a `model` transform. */
  endpoint?: ModelEndpoint;
  signal: AbortSignal;
  onCheckpoint?: (checkpoint: ProcessorCheckpoint) => void;
  checkpointIntervalMs?: number;
  sessionTimeoutMs?: number;
  /** Counters of an earlier run of this replica, to go on from. */
  resume?: ProcessorCheckpoint;
}

export const processorGroupId = (pipeline: string, transform: string): string => `mloop.${pipeline}.${transform}`;
export const changelogTopic = (pipeline: string, transform: string): string => `${pipeline}.${transform}.changelog`;

const emptyCounts = (): ProcessorCounts => ({ consumed: 0, produced: 0, deadLettered: 0, filtered: 0, errors: 0 });

export async function runProcessor(o: ProcessorOptions): Promise<ProcessorCheckpoint> {
  const { spec, fields, deadLetterTopic, guarantee } = o.pipeline;
  const t = spec.transforms.find((x) => x.name === o.transform);
  if (!t)
    throw new MloopError('NotFound', `pipeline ${spec.name} has no transform ${o.transform}`, { field: 'transform' });
  const inputFields = fields[t.input];
  if (!inputFields)
    throw new MloopError('InvalidInput', `topic ${t.input} has no known fields`, { field: 'transform' });
  const clientId = `mloop-${spec.name}-${t.name}-${o.replica ?? 0}`;
  const kafka = createKafka(o.brokers, `${clientId}-restore`);
  const counts = { ...emptyCounts(), ...o.resume?.counts };
  let lastError: string | null = o.resume?.lastError ?? null;
  const noteError = (err: unknown): void => {
    counts.errors++;
    lastError = err instanceof Error ? err.message : String(err);
  };
  const stage = createStage(t, {
    kafka,
    inputFields,
    changelogTopic: changelogTopic(spec.name, t.name),
    endpoint: o.endpoint,
    onRetry: noteError,
  });
  const partitions = o.pipeline.topics.find((x) => x.name === t.input)?.partitions ?? 1;

  const group = await runGroup({
    brokers: o.brokers,
    clientId,
    groupId: processorGroupId(spec.name, t.name),
    topic: t.input,
    guarantee,
    transactionalId: `mloop.${spec.name}.${t.name}`,
    signal: o.signal,
    sessionTimeoutMs: o.sessionTimeoutMs,
    concurrency: partitions,
    onError: (err) => noteError(err),
    processor: {
      acquire: (p, committed) => stage.acquire(p, committed),
      release: (p) => stage.release(p),
      sliceRecords: stage.sliceRecords,
      async process(batch, signal) {
        const r = await stage.process(batch, signal);
        const outgoing: Outgoing[] = [
          { topic: t.output, records: r.outputs },
          { topic: deadLetterTopic, records: r.dead },
        ];
        if (r.changelog) outgoing.push({ topic: changelogTopic(spec.name, t.name), records: [r.changelog] });
        return {
          outgoing,
          committed: () => {
            counts.consumed += r.processed;
            counts.produced += r.outputs.length;
            counts.deadLettered += r.dead.length;
            counts.filtered += r.filtered;
          },
        };
      },
    },
  });

  let lastConsumed = counts.consumed;
  let lastAt = Date.now();
  const checkpoint = (): ProcessorCheckpoint => {
    const now = Date.now();
    const rate = now > lastAt ? ((counts.consumed - lastConsumed) * 1000) / (now - lastAt) : 0;
    lastConsumed = counts.consumed;
    lastAt = now;
    return {
      pipeline: spec.name,
      transform: t.name,
      counts: { ...counts },
      partitions: group.status(),
      messagesPerSecond: Math.round(rate * 10) / 10,
      lastError,
      ...(stage.openWindows ? { openWindows: stage.openWindows() } : {}),
    };
  };
  const timer = setInterval(() => o.onCheckpoint?.(checkpoint()), o.checkpointIntervalMs ?? 1000);
  try {
    await group.done;
  } finally {
    clearInterval(timer);
  }
  const last = checkpoint();
  o.onCheckpoint?.(last);
  return last;
}
