import { Kafka, logLevel, type Consumer, type IHeaders, type Producer } from 'kafkajs';

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

/**
 * The one place that knows kafkajs. kafkajs is in maintenance mode, so the rest of mloop talks to
 * this small port and a different client can replace it without touching stages or transforms.
 */
export interface KafkaPort {
  ensureTopic(topic: string, partitions?: number): Promise<void>;
  produce(topic: string, records: StreamRecord[]): Promise<void>;
  consume(opts: ConsumeOptions): Promise<RunningConsumer>;
  close(): Promise<void>;
}

export interface KafkaAdapterOptions {
  brokers: string[];
  clientId?: string;
}

export function createKafkaAdapter(opts: KafkaAdapterOptions): KafkaPort {
  const kafka = new Kafka({
    clientId: opts.clientId ?? 'mloop',
    brokers: opts.brokers,
    logLevel: logLevel.WARN,
    retry: { retries: 8, initialRetryTime: 200 },
  });
  let producer: Promise<Producer> | undefined;
  const consumers = new Set<Consumer>();

  const getProducer = (): Promise<Producer> => {
    producer ??= (async () => {
      const p = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      return p;
    })();
    return producer;
  };

  return {
    async ensureTopic(topic, partitions = 1) {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const existing = await admin.listTopics();
        if (!existing.includes(topic)) {
          await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
        }
      } finally {
        await admin.disconnect();
      }
    },

    async produce(topic, records) {
      if (records.length === 0) return;
      const p = await getProducer();
      await p.send({
        topic,
        acks: -1,
        messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
      });
    },

    async consume({ groupId, topics, fromBeginning = false, onRecord }) {
      const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
      consumers.add(consumer);
      await consumer.connect();
      for (const topic of topics) await consumer.subscribe({ topic, fromBeginning });
      await consumer.run({
        autoCommit: true,
        eachMessage: async ({ topic, partition, message }) => {
          await onRecord({
            topic,
            partition,
            offset: message.offset,
            timestamp: message.timestamp,
            key: message.key?.toString('utf8') ?? null,
            value: message.value?.toString('utf8') ?? '',
            headers: decodeHeaders(message.headers),
          });
        },
      });
      return {
        async stop() {
          consumers.delete(consumer);
          await consumer.disconnect();
        },
      };
    },

    async close() {
      await Promise.all([...consumers].map((c) => c.disconnect()));
      consumers.clear();
      if (producer) await (await producer).disconnect();
      producer = undefined;
    },
  };
}

function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(String).join(',') : v.toString();
  }
  return out;
}
