import { randomUUID } from 'node:crypto';
import kafkajs, {
  Kafka,
  logLevel,
  Partitioners,
  type Admin,
  type Batch,
  type Consumer,
  type IHeaders,
  type KafkaMessage,
  type Producer,
} from 'kafkajs';
import { MloopError } from '../errors';
import { createTopicsAndWait } from './create-topics';
import { batchBytes, recordBytes } from './record-size';

/** A message as mloop sees it: text key, JSON or text value, string headers. */
export interface StreamRecord {
  key: string | null;
  value: string;
  headers?: Record<string, string>;
}

export interface ConsumedRecord extends StreamRecord {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
}

export interface ConsumeOptions {
  groupId: string;
  topics: string[];
  fromBeginning?: boolean;
  /** Called once per record, in partition order; the offset is committed after it returns. */
  onRecord: (record: ConsumedRecord) => Promise<void>;
}

export interface RunningConsumer {
  stop(): Promise<void>;
}

export interface PartitionOffsets {
  partition: number;
  /** First offset still stored. */
  low: string;
  /** Offset the next record will get (one past the last). */
  high: string;
}

/** Offsets `[from, to)` of one partition. */
export interface PartitionRange {
  partition: number;
  from: string;
  to: string;
}

/**
 * The one place that knows kafkajs. kafkajs is in maintenance mode, so the rest of mloop talks to
 * this small port and a different client can replace it without touching stages or transforms.
 */
export interface KafkaPort {
  ensureTopic(topic: string, partitions?: number): Promise<void>;
  /**
   * Writes records in order (batched to the topic's size limit). A record that cannot fit the
   * limit even alone is refused, before anything is sent, with `InvalidInput` naming it.
   */
  produce(topic: string, records: StreamRecord[]): Promise<void>;
  /** The largest record batch the topic accepts (its `max.message.bytes`); see record-size.ts. */
  maxMessageBytes(topic: string): Promise<number>;
  consume(opts: ConsumeOptions): Promise<RunningConsumer>;
  /** Low and high watermarks of every partition. */
  partitionOffsets(topic: string): Promise<PartitionOffsets[]>;
  /** Per partition, the first offset whose record timestamp is at or after `timestamp` (ms). */
  offsetsAtTimestamp(topic: string, timestamp: number): Promise<{ partition: number; offset: string }[]>;
  /**
   * Reads exactly the given ranges, without committing anything, and resolves when every range
   * is read. `onBatch` gets each partition's records in offset order.
   */
  readRanges(
    topic: string,
    ranges: PartitionRange[],
    onBatch: (records: ConsumedRecord[]) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<void>;
  /**
   * Streams topics from explicit per-partition offsets (partitions not named start at their
   * earliest offset), committing nothing: the caller keeps its own offsets. `onBatch` gets one
   * partition's records at a time, in offset order, and the next batch waits for it. Resolves
   * when `signal` aborts or `onBatch` throws (then it rejects).
   */
  stream(
    starts: TopicStart[],
    onBatch: (records: ConsumedRecord[]) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void>;
  close(): Promise<void>;
}

export interface TopicStart {
  topic: string;
  /** Partition → first offset to read. */
  offsets: Record<string, string>;
}

export interface KafkaAdapterOptions {
  brokers: string[];
  clientId?: string;
}

/** Kafka's default `message.max.bytes`, used when a topic's own limit cannot be read. */
export const defaultMaxMessageBytes = 1_048_588;
// Topic limits can be changed at run time: read again after this long.
const maxMessageBytesTtlMs = 60_000;

export function createKafkaAdapter(opts: KafkaAdapterOptions): KafkaPort {
  const kafka = new Kafka({
    clientId: opts.clientId ?? 'mloop',
    brokers: opts.brokers,
    logLevel: logLevel.WARN,
    retry: { retries: 8, initialRetryTime: 200 },
  });
  let producer: Promise<Producer> | undefined;
  const consumers = new Set<Consumer>();
  const limits = new Map<string, { bytes: Promise<number>; at: number }>();

  const maxMessageBytes = (topic: string): Promise<number> => {
    const cached = limits.get(topic);
    if (cached && Date.now() - cached.at < maxMessageBytesTtlMs) return cached.bytes;
    const bytes = withAdmin(kafka, (admin) => topicMaxMessageBytes(admin, topic)).catch(() => {
      limits.delete(topic); // not cached: the next call asks again
      return defaultMaxMessageBytes;
    });
    limits.set(topic, { bytes, at: Date.now() });
    return bytes;
  };

  const getProducer = (): Promise<Producer> => {
    producer ??= (async () => {
      // The default (murmur2, Java-compatible) partitioner, named so keys land where Java clients put them.
      const p = kafka.producer({
        allowAutoTopicCreation: false,
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await p.connect();
      return p;
    })();
    return producer;
  };

  return {
    async ensureTopic(topic, partitions = 1) {
      await withAdmin(kafka, async (admin) => {
        const existing = await admin.listTopics();
        if (!existing.includes(topic)) {
          await createTopicsAndWait(admin, [{ topic, numPartitions: partitions }]);
        }
      });
    },

    async produce(topic, records) {
      if (records.length === 0) return;
      const limit = await maxMessageBytes(topic);
      const tooLarge = records.findIndex((r) => batchBytes([r]) > limit);
      if (tooLarge >= 0) {
        const bytes = batchBytes([records[tooLarge] as StreamRecord]);
        const field = `records[${tooLarge}]`;
        const why = `takes ${bytes} bytes, more than topic "${topic}" accepts (max.message.bytes ${limit})`;
        throw new MloopError('InvalidInput', `${field}: ${why}`, { field });
      }
      const p = await getProducer();
      // kafkajs sends one record batch per partition, and the broker refuses batches over the
      // topic's limit: send large inputs in pieces.
      for (const chunk of chunksBySize(records, limit)) {
        await p.send({
          topic,
          acks: -1,
          messages: chunk.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
        });
      }
    },

    maxMessageBytes,

    async consume({ groupId, topics, fromBeginning = false, onRecord }) {
      const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
      consumers.add(consumer);
      await consumer.connect();
      for (const topic of topics) await consumer.subscribe({ topic, fromBeginning });
      await consumer.run({
        autoCommit: true,
        eachMessage: async ({ topic, partition, message }) => {
          await onRecord(toConsumed(topic, partition, message));
        },
      });
      return {
        async stop() {
          consumers.delete(consumer);
          await consumer.disconnect();
        },
      };
    },

    async partitionOffsets(topic) {
      return withAdmin(kafka, async (admin) => {
        const offsets = await admin.fetchTopicOffsets(topic);
        return offsets
          .map((o) => ({ partition: o.partition, low: o.low, high: o.high }))
          .sort((a, b) => a.partition - b.partition);
      });
    },

    async offsetsAtTimestamp(topic, timestamp) {
      return withAdmin(kafka, async (admin) => {
        const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
        return offsets
          .map((o) => ({ partition: o.partition, offset: o.offset }))
          .sort((a, b) => a.partition - b.partition);
      });
    },

    async readRanges(topic, ranges, onBatch, signal) {
      const pending = new Map(ranges.filter((r) => BigInt(r.to) > BigInt(r.from)).map((r) => [r.partition, r]));
      if (pending.size === 0) return;
      await runSeeked(kafka, consumers, {
        topics: [topic],
        seeks: [...pending.values()].map((r) => ({ topic, partition: r.partition, offset: r.from })),
        signal,
        abortError: new Error('reading the topic was cancelled'),
        onBatch,
        select: (batch) => {
          const range = pending.get(batch.partition);
          if (!range) return { records: [], partitionDone: false };
          const end = BigInt(range.to);
          const records: ConsumedRecord[] = [];
          for (const m of batch.messages) {
            if (BigInt(m.offset) < BigInt(range.from)) continue;
            if (BigInt(m.offset) >= end) break;
            records.push(toConsumed(batch.topic, batch.partition, m));
          }
          // lastOffset() counts control records too, so a range ending on a transaction marker
          // still completes.
          const partitionDone = batch.messages.length > 0 && BigInt(batch.lastOffset()) + 1n >= end;
          if (partitionDone) pending.delete(batch.partition);
          return { records, partitionDone };
        },
        allDone: () => pending.size === 0,
      });
    },

    async stream(starts, onBatch, signal) {
      if (signal.aborted) return;
      await runSeeked(kafka, consumers, {
        topics: starts.map((s) => s.topic),
        seeks: starts.flatMap((s) =>
          Object.entries(s.offsets).map(([partition, offset]) => ({
            topic: s.topic,
            partition: Number(partition),
            offset,
          })),
        ),
        signal,
        maxWaitTimeInMs: 200,
        onBatch,
        select: (batch) => ({
          records: batch.messages.map((m) => toConsumed(batch.topic, batch.partition, m)),
          partitionDone: false,
        }),
      });
    },

    async close() {
      await Promise.all([...consumers].map((c) => c.disconnect()));
      consumers.clear();
      if (producer) await (await producer).disconnect();
      producer = undefined;
    },
  };
}

interface SeekedRun {
  topics: string[];
  seeks: Array<{ topic: string; partition: number; offset: string }>;
  signal?: AbortSignal;
  /** On abort: reject with this error; without it, an abort simply ends the run. */
  abortError?: Error;
  maxWaitTimeInMs?: number;
  /** The records of a fetched batch to deliver, and whether its partition is finished after them. */
  select: (batch: Batch) => { records: ConsumedRecord[]; partitionDone: boolean };
  onBatch: (records: ConsumedRecord[]) => Promise<void>;
  allDone?: () => boolean;
}

/**
 * Reads through a throwaway consumer group from explicit offsets, committing nothing: kafkajs
 * only reads through groups, and seeking one that never commits touches no real group's
 * offsets. Ends on `allDone`, on abort, or (rejecting) when `onBatch` throws.
 */
async function runSeeked(kafka: Kafka, consumers: Set<Consumer>, o: SeekedRun): Promise<void> {
  const consumer = kafka.consumer({
    groupId: `mloop-read-${randomUUID()}`,
    allowAutoTopicCreation: false,
    ...(o.maxWaitTimeInMs ? { maxWaitTimeInMs: o.maxWaitTimeInMs } : {}),
  });
  consumers.add(consumer);
  const onAbort = (): void => finish(o.abortError);
  let finish!: (err?: unknown) => void;
  const done = new Promise<void>((resolve, reject) => (finish = (err) => (err ? reject(err) : resolve())));
  try {
    await consumer.connect();
    for (const topic of o.topics) await consumer.subscribe({ topic, fromBeginning: true });
    o.signal?.addEventListener('abort', onAbort, { once: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning }) => {
        if (o.signal?.aborted || !isRunning()) return;
        const { records, partitionDone } = o.select(batch);
        try {
          if (records.length > 0) await o.onBatch(records);
        } catch (err) {
          finish(err);
          return;
        }
        const last = records.at(-1);
        if (last) resolveOffset(last.offset);
        await heartbeat();
        if (partitionDone) consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
        if (o.allDone?.()) finish();
      },
    });
    for (const s of o.seeks) consumer.seek(s);
    await done;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    consumers.delete(consumer);
    await consumer.disconnect();
  }
}

/**
 * Records per send at most. kafkajs groups a send's records by partition by copying the list so
 * far for every record, which is quadratic in the records of one send: at a megabyte of small
 * records (thousands) that grouping and its garbage cost more than the extra round trips.
 */
export const maxRecordsPerSend = 500;

/**
 * Consecutive pieces of at most `maxRecords` records whose batch would fit `maxBytes` even if
 * every record of a piece went to one partition (a partition's batch holds a subset, at smaller
 * offset deltas).
 */
export function* chunksBySize(
  records: readonly StreamRecord[],
  maxBytes: number,
  maxRecords = maxRecordsPerSend,
): Generator<StreamRecord[]> {
  let chunk: StreamRecord[] = [];
  let bytes = batchBytes([]);
  for (const r of records) {
    if (chunk.length >= maxRecords || (chunk.length > 0 && bytes + recordBytes(r, chunk.length) > maxBytes)) {
      yield chunk;
      chunk = [];
      bytes = batchBytes([]);
    }
    bytes += recordBytes(r, chunk.length);
    chunk.push(r);
  }
  if (chunk.length > 0) yield chunk;
}

async function topicMaxMessageBytes(admin: Admin, topic: string): Promise<number> {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    // Through the default export: Node's CommonJS interop does not see this enum as a named export.
    resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }],
  });
  const value = Number(resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
  return Number.isSafeInteger(value) && value > 0 ? value : defaultMaxMessageBytes;
}

/** A fetched message as mloop reads it: text key and value, headers joined as text. */
export function toConsumed(topic: string, partition: number, m: KafkaMessage): ConsumedRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    timestamp: m.timestamp,
    key: m.key?.toString('utf8') ?? null,
    value: m.value?.toString('utf8') ?? '',
    headers: decodeHeaders(m.headers),
  };
}

async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(String).join(',') : v.toString();
  }
  return out;
}
