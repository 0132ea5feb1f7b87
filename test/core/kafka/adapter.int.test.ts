import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter, type ConsumedRecord } from '../../../core/kafka/adapter';
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
    await Promise.race([all, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${received.length} of ${sent.length} records arrived`)), 60_000))]);
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
    const records = Array.from({ length: 3000 }, (_, i) => ({ key: `k-${i}`, value: JSON.stringify({ i, pad: 'x'.repeat(1000) }) }));
    await kafka.produce(topic, records);
    const [offsets] = await kafka.partitionOffsets(topic);
    expect(offsets?.high).toBe('3000');
  });
});
