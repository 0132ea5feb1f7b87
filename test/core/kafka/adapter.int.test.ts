import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter, type ConsumedRecord, type StreamRecord } from '../../../core/kafka/adapter';
import { batchBytes, fitRecord } from '../../../core/kafka/record-size';
import { config } from '../../helpers/stack';

describe('Kafka adapter against the real broker', () => {
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'mloop-test' });
  afterAll(async () => kafka.close());

  it('produces and consumes keyed JSON records with headers, in order per partition', async () => {
    const topic = `test.adapter.${randomUUID()}`;
    await kafka.ensureTopic(topic, 3);
    await kafka.ensureTopic(topic, 3); // idempotent

    const sent = Array.from({ length: 300 }, (_, i) => ({
      key: `machine-${i % 7}`,
      value: JSON.stringify({ seq: i, temperature_c: 70 + (i % 10) }),
      headers: { 'mloop-source': 'test', seq: String(i) },
    }));
    await kafka.produce(topic, sent.slice(0, 150));
    await kafka.produce(topic, sent.slice(150));

    const received: ConsumedRecord[] = [];
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    const consumer = await kafka.consume({
      groupId: `test-${randomUUID()}`,
      topics: [topic],
      fromBeginning: true,
      onRecord: async (record) => {
        received.push(record);
        if (received.length === sent.length) resolveAll();
      },
    });
    await Promise.race([
      all,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`only ${received.length} of ${sent.length} records arrived`)), 60_000),
      ),
    ]);
    await consumer.stop();

    expect(received).toHaveLength(sent.length);
    expect(new Set(received.map((r) => JSON.parse(r.value).seq)).size).toBe(sent.length);
    for (const r of received) {
      const seq = Number(r.headers?.seq);
      expect(JSON.parse(r.value).seq).toBe(seq);
      expect(r.key).toBe(`machine-${seq % 7}`);
      expect(r.headers?.['mloop-source']).toBe('test');
    }
    // One key always lands on one partition, and its records keep their order.
    const byKey = new Map<string, ConsumedRecord[]>();
    for (const r of received) byKey.set(r.key ?? '', [...(byKey.get(r.key ?? '') ?? []), r]);
    for (const records of byKey.values()) {
      expect(new Set(records.map((r) => r.partition)).size).toBe(1);
      const seqs = records.map((r) => Number(r.headers?.seq));
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
  });

  it('sends more than the broker takes in one request, in pieces', async () => {
    const topic = `test.adapter.big.${randomUUID()}`;
    await kafka.ensureTopic(topic, 1);
    // 3 MiB for one partition: three times the broker's default message size limit.
    const records = Array.from({ length: 3000 }, (_, i) => ({
      key: `k-${i}`,
      value: JSON.stringify({ i, pad: 'x'.repeat(1000) }),
    }));
    await kafka.produce(topic, records);
    const [offsets] = await kafka.partitionOffsets(topic);
    expect(offsets?.high).toBe('3000');
  });

  it('measures records as the broker does: one that fills max.message.bytes goes, one byte more does not', async () => {
    const topic = `test.adapter.limit.${randomUUID()}`;
    const raw = new Kafka({ brokers: config.kafkaBrokers, clientId: 'mloop-test-raw', logLevel: logLevel.NOTHING });
    const admin = raw.admin();
    const producer = raw.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await Promise.all([admin.connect(), producer.connect()]);
    try {
      const configEntries = [{ name: 'max.message.bytes', value: '50000' }];
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, configEntries }] });
      expect(await kafka.maxMessageBytes(topic)).toBe(50_000);
      const unknown = await kafka.maxMessageBytes(`test.adapter.none.${randomUUID()}`);
      expect(unknown).toBe(1_048_588); // Kafka's default, when the topic's own cannot be read

      const headers = { 'mloop-reason': 'ünïcode reason', 'mloop-source': 'a/0/1' };
      const exact: StreamRecord = { key: 'k-é', value: 'v'.repeat(49_800), headers };
      while (batchBytes([exact]) < 50_000) exact.value += 'v';
      expect(batchBytes([exact])).toBe(50_000);
      const over = { ...exact, value: `${exact.value}v` };

      // The broker itself, without the adapter's check in front: our count is its count.
      await producer.send({ topic, acks: -1, messages: [exact] });
      const refused = producer.send({ topic, acks: -1, messages: [over] });
      await expect(refused).rejects.toThrow(/larger than the max message size/);

      // The adapter refuses it before sending anything, naming the record and the limit.
      await expect(kafka.produce(topic, [exact, over])).rejects.toThrow(
        `records[1]: takes 50001 bytes, more than topic "${topic}" accepts (max.message.bytes 50000)`,
      );
      const fitted = fitRecord(over, 50_000);
      const original = { 'mloop-truncated': 'true', 'mloop-original-value-bytes': String(over.value.length) };
      expect(fitted.headers).toMatchObject({ ...headers, ...original });
      expect(batchBytes([fitted])).toBeLessThanOrEqual(50_000);
      expect(batchBytes([fitted])).toBeGreaterThan(49_900);
      // Many records near the limit go in batches under it.
      const small = Array.from({ length: 30 }, (_, i) => ({ key: `s-${i}`, value: 'x'.repeat(9_000) }));
      await kafka.produce(topic, [exact, fitted, ...small]);
      const [offsets] = await kafka.partitionOffsets(topic);
      expect(offsets?.high).toBe('33');
    } finally {
      await Promise.all([admin.disconnect(), producer.disconnect()]);
    }
  });
});
