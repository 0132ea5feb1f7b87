import { randomUUID } from 'node:crypto';
import {
  Kafka,
  logLevel,
  Partitioners,
  type Consumer,
  type EachBatchPayload,
  type ICustomPartitioner,
  type KafkaMessage,
  type Message,
  type Producer,
  type Transaction,
} from 'kafkajs';
import { toConsumed, type ConsumedRecord, type StreamRecord } from './adapter';

/**
 * Consume-transform-produce through a consumer group, with at-least-once or exactly-once
 * delivery. This is the other file (beside adapter.ts) that knows kafkajs.
 *
 * Exactly-once follows the transactional pattern that fences zombies by transactional ID: one
 * transactional producer per input partition, with an ID derived from the partition. A member
 * that gains a partition first initialises that producer, which aborts whatever transaction
 * a previous owner left open and fences it from committing later; only then does it read the
 * committed offset and let the processor restore its state. Each batch's outputs, its state
 * and its offsets go in one transaction. Consumers read committed records only (kafkajs's
 * default isolation), so downstream stages never see an aborted batch.
 *
 * At-least-once uses an idempotent producer per input partition and commits the offsets after
 * the outputs are acknowledged; a crash in between repeats the batch.
 */
export type Guarantee = 'at-least-once' | 'exactly-once';

export interface OutRecord extends StreamRecord {
  /** An explicit partition (changelogs write the input's partition); otherwise by key. */
  partition?: number;
}

export interface Outgoing {
  topic: string;
  records: OutRecord[];
}

export interface PartitionBatch {
  topic: string;
  partition: number;
  /** Records not yet processed, in offset order (a repeated delivery is already cut off). */
  records: ConsumedRecord[];
  highWatermark: string;
}

export interface BatchResult {
  outgoing: Outgoing[];
  /** Called once the batch's outputs and offsets are committed: the moment to keep new state. */
  committed?: () => void;
}

export interface PartitionProcessor {
  /**
   * This member now owns `partition`; `committed` is the group's committed offset for it (null
   * when there is none). Restore state here: for exactly-once, any previous owner is fenced.
   * Called again after every rebalance, and after a failed batch.
   */
  acquire(partition: number, committed: string | null): Promise<void>;
  process(batch: PartitionBatch, signal: AbortSignal): Promise<BatchResult>;
  /**
   * At most this many records per `process` call: a batch is processed in slices, each slice's
   * outputs sent while the next is processed, and the batch's offset committed after all of
   * them (one transaction for exactly-once). Unset: the whole batch in one call.
   */
  sliceRecords?: number;
  /** The partition is no longer this member's (or its state must be restored again). */
  release(partition: number): void;
}

export interface PartitionStatus {
  partition: number;
  /** Next offset to process, as committed. */
  committed: string | null;
  highWatermark: string | null;
  lag: number | null;
}

export interface GroupRunOptions {
  brokers: string[];
  clientId: string;
  groupId: string;
  topic: string;
  guarantee: Guarantee;
  /** Prefix of the per-partition transactional IDs (exactly-once). */
  transactionalId: string;
  processor: PartitionProcessor;
  signal: AbortSignal;
  /** How long the group waits for a silent member before giving its partitions to another (10 s). */
  sessionTimeoutMs?: number;
  /** Each failed batch, before it is retried. */
  onError?: (err: unknown, partition: number) => void;
  /** Partitions processed in parallel (1). */
  concurrency?: number;
}

export interface RunningGroup {
  status(): PartitionStatus[];
  /** Resolves when the run ends (the signal aborted); rejects if the consumer crashed. */
  done: Promise<void>;
}

/** Kafka's default `message.max.bytes` is about 1 MiB per record batch; stay well below. */
const maxSendBytes = 512 * 1024;

interface Owned {
  generation: number;
  /** Records below this offset were processed (and committed) already. */
  committed: string | null;
  producer?: Producer;
}

export function createKafka(brokers: string[], clientId: string): Kafka {
  return new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 200 } });
}

export async function runGroup(o: GroupRunOptions): Promise<RunningGroup> {
  const kafka = createKafka(o.brokers, o.clientId);
  const sessionTimeout = o.sessionTimeoutMs ?? 10_000;
  const consumer = kafka.consumer({
    groupId: o.groupId,
    sessionTimeout,
    heartbeatInterval: Math.max(100, Math.floor(sessionTimeout / 5)),
    rebalanceTimeout: Math.max(sessionTimeout * 3, 30_000),
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 200,
  });
  const admin = kafka.admin();
  // Partitions acquired together (all of them after a rebalance) read their offsets in one fetch.
  const committedOffsets = coalesced(async () => {
    const offsets = await admin.fetchOffsets({ groupId: o.groupId, topics: [o.topic] });
    return new Map((offsets[0]?.partitions ?? []).map((x) => [x.partition, x.offset]));
  });
  const plain = new Map<number, Promise<Producer>>();
  const owned = new Map<number, Owned>();
  const ownCommits = new Map<number, string>();
  const watermarks = new Map<number, string>();
  let assigned: number[] = [];
  let generation = 0;
  const stop = new AbortController();

  // At-least-once reads the offsets once the group is joined, while the first fetch is under
  // way; each partition takes that read for its first acquisition in the generation.
  let joinRead: { offsets: Promise<Map<number, string>>; unused: Set<number> } | null = null;
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    generation++;
    assigned = [...(payload.memberAssignment[o.topic] ?? [])].sort((a, b) => a - b);
    if (o.guarantee === 'at-least-once') {
      const offsets = committedOffsets();
      offsets.catch(() => undefined);
      joinRead = { offsets, unused: new Set(assigned) };
      // Connected while the first batches are fetched; a failure shows at the batch, which retries.
      for (const p of assigned) plainProducer(p).catch(() => undefined);
    }
    for (const [p, own] of owned) {
      // Every partition restores again after a rebalance: if this member was out of the group
      // for a while, another may have moved it on.
      o.processor.release(p);
      if (!assigned.includes(p)) {
        owned.delete(p);
        void own.producer?.disconnect().catch(() => undefined);
      }
    }
  });

  /**
   * At-least-once: one idempotent producer per input partition, kept across rebalances. An
   * idempotent producer has one request in flight; with one for all partitions, their sends
   * waited for each other's acknowledgements, and the broker's answer time set the pace.
   */
  const plainProducer = (partition: number): Promise<Producer> => {
    let p = plain.get(partition);
    if (!p) {
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: keyCachingPartitioner,
      });
      p = producer.connect().then(
        () => producer,
        (err: unknown) => {
          plain.delete(partition); // the next batch tries again
          throw err;
        },
      );
      plain.set(partition, p);
    }
    return p;
  };

  const acquire = async (partition: number): Promise<Owned> => {
    const previous = owned.get(partition);
    let producer = previous?.producer;
    if (o.guarantee === 'exactly-once' && !producer) {
      producer = kafka.producer({
        transactionalId: `${o.transactionalId}-p${partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: keyCachingPartitioner,
      });
      await producer.connect();
      // The first transaction initialises the producer ID: this is the fencing step.
      const fence = await producer.transaction();
      await fence.abort();
    }
    // Exactly-once reads only now, after fencing: what a previous owner committed is final.
    const fromJoin = joinRead?.unused.delete(partition) ? joinRead.offsets : undefined;
    const found = (await (fromJoin ?? committedOffsets())).get(partition);
    // A transaction's offsets become visible a moment after its commit returns (the broker
    // writes the markers afterwards), so right after our own commit the group may still show
    // the one before: never go back behind what this member committed itself.
    const committed = maxOffset(
      found !== undefined && found !== '-1' ? found : null,
      ownCommits.get(partition) ?? null,
    );
    await o.processor.acquire(partition, committed);
    const own: Owned = { generation, committed, ...(producer ? { producer } : {}) };
    owned.set(partition, own);
    return own;
  };

  // After a failed batch the partition is acquired afresh: state restored from what was
  // committed, and for exactly-once a new producer (a failed transaction may leave the old one
  // unusable, and a fenced one is useless).
  const drop = async (partition: number): Promise<void> => {
    const own = owned.get(partition);
    o.processor.release(partition);
    owned.delete(partition);
    await own?.producer?.disconnect().catch(() => undefined);
  };

  /**
   * One batch's delivery: its outputs sent in order as its slices come, then its offset, all in
   * one transaction for exactly-once (opened at the first send). A failed send stops later ones
   * and fails the commit.
   */
  const deliver = (own: Owned, partition: number): Delivery => {
    const transactional = own.producer;
    let txn: Promise<Transaction> | undefined;
    const open = (): Promise<Transaction> | undefined => (transactional ? (txn ??= transactional.transaction()) : txn);
    let sending: Promise<void> = Promise.resolve();
    const abort = async (): Promise<void> => {
      const t = await txn?.catch(() => undefined);
      if (t) await abortQuietly(t);
    };
    return {
      send(outgoing) {
        sending = sending.then(async () => {
          const producer = (await open()) ?? (await plainProducer(partition));
          await sendAll((batch) => producer.sendBatch(batch), outgoing);
        });
        sending.catch(() => undefined); // seen by commit or abandon
      },
      async commit(next) {
        try {
          await sending;
          const t = await open();
          if (t) {
            const offsets = { topic: o.topic, partitions: [{ partition, offset: next }] };
            await t.sendOffsets({ consumerGroupId: o.groupId, topics: [offsets] });
            await t.commit();
          } else {
            await consumer.commitOffsets([{ topic: o.topic, partition, offset: next }]);
          }
        } catch (err) {
          await abort();
          throw err;
        }
      },
      async abandon() {
        await sending.catch(() => undefined);
        await abort();
      },
    };
  };

  const eachBatch = async ({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> => {
    if (!isRunning() || isStale() || stop.signal.aborted) return;
    const partition = batch.partition;
    watermarks.set(partition, batch.highWatermark);
    try {
      let own = owned.get(partition);
      if (!own || own.generation !== generation) own = await acquire(partition);
      const records = unprocessed(batch.messages, own.committed).map((m) => toConsumed(batch.topic, partition, m));
      if (records.length > 0) {
        const delivery = deliver(own, partition);
        const committed: Array<() => void> = [];
        try {
          const size = o.processor.sliceRecords ?? records.length;
          for (let i = 0; i < records.length && !stop.signal.aborted; i += size) {
            const slice = size >= records.length ? records : records.slice(i, i + size);
            const { topic, highWatermark } = batch;
            const result = await o.processor.process({ topic, partition, records: slice, highWatermark }, stop.signal);
            if (stop.signal.aborted) break;
            delivery.send(result.outgoing);
            if (result.committed) committed.push(result.committed);
          }
        } catch (err) {
          await delivery.abandon();
          throw err;
        }
        if (stop.signal.aborted) {
          await delivery.abandon();
          return;
        }
        const next = (BigInt((records.at(-1) as ConsumedRecord).offset) + 1n).toString();
        await delivery.commit(next);
        own.committed = next;
        ownCommits.set(partition, next);
        for (const done of committed) done();
      }
    } catch (err) {
      if (stop.signal.aborted) return;
      o.onError?.(err, partition);
      await drop(partition);
      // Not resolving the batch makes kafkajs fetch it again; wait a little first.
      await sleep(500, stop.signal);
      return;
    }
    const last = batch.messages.at(-1);
    if (last) resolveOffset(last.offset);
    // A rebalance shows here as an error; kafkajs rejoins on its next fetch either way.
    await heartbeat().catch(() => undefined);
  };

  await Promise.all([consumer.connect(), admin.connect()]);
  await consumer.subscribe({ topic: o.topic, fromBeginning: true });
  const crashed = new Promise<never>((_, reject) => {
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) reject(payload.error);
    });
  });
  crashed.catch(() => undefined);
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: o.concurrency ?? 1,
    eachBatch,
  });

  const done = (async () => {
    const aborted = new Promise<void>((resolve) => {
      if (o.signal.aborted) resolve();
      else o.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    try {
      await Promise.race([aborted, crashed]);
    } finally {
      stop.abort();
      await consumer.disconnect().catch(() => undefined);
      await Promise.all([...owned.values()].map((x) => x.producer?.disconnect().catch(() => undefined)));
      await Promise.all([...plain.values()].map((p) => p.then((x) => x.disconnect()).catch(() => undefined)));
      await admin.disconnect().catch(() => undefined);
    }
  })();

  return {
    done,
    status: () =>
      assigned.map((partition) => {
        const committed = owned.get(partition)?.committed ?? null;
        const highWatermark = watermarks.get(partition) ?? null;
        const lag = highWatermark === null ? null : Number(BigInt(highWatermark) - BigInt(committed ?? '0'));
        return { partition, committed, highWatermark, lag: lag === null ? null : Math.max(0, lag) };
      }),
  };
}

/**
 * `read`, with the calls made while one is waiting to start sharing it. A call is only answered
 * by a read that starts after it (never by one already under way), so what it gets is never
 * older than the call: for exactly-once, never from before the caller fenced its partition.
 */
export function coalesced<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<unknown> = Promise.resolve();
  let waiting: Promise<T> | null = null;
  return () => {
    if (waiting) return waiting;
    const next = running
      .catch(() => undefined)
      // One turn of the event loop for the other partitions' calls to join.
      .then(() => new Promise((resolve) => setImmediate(resolve)))
      .then(() => {
        waiting = null;
        return read();
      });
    waiting = next;
    running = next;
    return next;
  };
}

const keyCacheLimit = 10_000;

/**
 * kafkajs's default partitioner (murmur2 of the key modulo the partition count, so a key goes
 * where any Kafka client puts it), remembering the partition of each text key: it would hash the
 * key and filter the partition list for every record, and a stream's keys repeat.
 */
export const keyCachingPartitioner: ICustomPartitioner = () => {
  const partitioner = Partitioners.DefaultPartitioner();
  const byCount = new Map<number, Map<string, number>>();
  return (args) => {
    const { message, partitionMetadata } = args;
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (typeof message.key !== 'string') return partitioner(args);
    let known = byCount.get(partitionMetadata.length);
    if (!known) byCount.set(partitionMetadata.length, (known = new Map()));
    let partition = known.get(message.key);
    if (partition === undefined) {
      partition = partitioner(args);
      if (known.size >= keyCacheLimit) known.clear();
      known.set(message.key, partition);
    }
    return partition;
  };
};

interface Delivery {
  /** Sends these outputs after the ones sent before (not awaited). */
  send(outgoing: Outgoing[]): void;
  /** Waits for every send, then commits the offset `next` (with the outputs, for exactly-once). */
  commit(next: string): Promise<void>;
  /** Gives up: lets the sends under way settle and aborts the transaction. */
  abandon(): Promise<void>;
}

async function abortQuietly(txn: Transaction): Promise<void> {
  try {
    if (txn.isActive()) await txn.abort();
  } catch {
    /* a fenced or broken producer: the broker aborts the transaction on timeout or fencing */
  }
}

type SendBatch = (batch: {
  topicMessages: Array<{ topic: string; messages: Message[] }>;
  acks: -1;
}) => Promise<unknown>;

/** Sends every record, in pieces of at most `maxSendBytes`, keeping each topic's order. */
async function sendAll(send: SendBatch, outgoing: Outgoing[]): Promise<void> {
  let piece: Array<{ topic: string; messages: Message[] }> = [];
  let bytes = 0;
  const flush = async (): Promise<void> => {
    if (piece.length > 0) await send({ topicMessages: piece, acks: -1 });
    piece = [];
    bytes = 0;
  };
  for (const { topic, records } of outgoing) {
    let messages: Message[] = [];
    for (const r of records) {
      const size = Buffer.byteLength(r.value) + (r.key ? Buffer.byteLength(r.key) : 0) + 64 + headerBytes(r.headers);
      if (bytes + size > maxSendBytes && (messages.length > 0 || piece.length > 0)) {
        if (messages.length > 0) piece.push({ topic, messages });
        await flush();
        messages = [];
      }
      // Only these fields: a record with more (a consumed one's timestamp) must not pass them on.
      messages.push({ key: r.key, value: r.value, headers: r.headers, partition: r.partition });
      bytes += size;
    }
    if (messages.length > 0) piece.push({ topic, messages });
  }
  await flush();
}

const headerBytes = (h: Record<string, string> | undefined): number => {
  let n = 0;
  for (const k in h) n += k.length + Buffer.byteLength(h[k] as string) + 8;
  return n;
};

/** The messages at or after `committed` (offsets ascend, so only a repeated head is cut). */
function unprocessed(messages: KafkaMessage[], committed: string | null): KafkaMessage[] {
  if (committed === null || messages.length === 0) return messages;
  const from = BigInt(committed);
  if (BigInt((messages[0] as KafkaMessage).offset) >= from) return messages;
  return messages.filter((m) => BigInt(m.offset) >= from);
}

function maxOffset(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return BigInt(a) >= BigInt(b) ? a : b;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Reads one partition from its first stored offset to its end as it stands now, committed
 * records only, and resolves with them in offset order. Restoring state from a changelog: the
 * caller has fenced the partition's writer, so nothing is still open on it.
 */
export async function readPartitionToEnd(
  kafka: Kafka,
  topic: string,
  partition: number,
  signal?: AbortSignal,
): Promise<ConsumedRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  let range: { low: string; high: string } | undefined;
  try {
    range = (await admin.fetchTopicOffsets(topic)).find((x) => x.partition === partition);
  } finally {
    await admin.disconnect();
  }
  if (!range) throw new Error(`topic ${topic} has no partition ${partition}`);
  const end = BigInt(range.high);
  if (end <= BigInt(range.low)) return [];

  const consumer: Consumer = kafka.consumer({
    groupId: `mloop-restore-${randomUUID()}`,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 100,
  });
  const records: ConsumedRecord[] = [];
  let finish!: (err?: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => (finish = (err) => (err ? reject(err) : resolve())));
  // Batches of aborted records or transaction markers never reach eachBatch; their end does
  // show in the batch-end event, so progress is read there.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.partition === partition && BigInt(payload.lastOffset) + 1n >= end) finish();
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => finish(payload.error));
  const onAbort = (): void => finish(new Error(`reading ${topic}/${partition} was cancelled`));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, pause }) => {
        if (batch.partition !== partition) {
          pause();
          return;
        }
        for (const m of batch.messages) if (BigInt(m.offset) < end) records.push(toConsumed(topic, partition, m));
      },
    });
    consumer.seek({ topic, partition, offset: range.low });
    await finished;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => undefined);
  }
  return records;
}
