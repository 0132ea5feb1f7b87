import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotTopic } from '../../../core/data/topic-snapshot';
import { createKafkaAdapter } from '../../../core/kafka/adapter';
import { config, tempDir } from '../../helpers/stack';

const sha = async (file: string): Promise<string> => createHash('sha256').update(await fs.readFile(file)).digest('hex');

describe('Kafka topic replay into a dataset snapshot (real broker)', () => {
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'mloop-test-snapshot' });
  const topic = `test.snapshot.${randomUUID()}`;
  let dir: string;
  let middle: number;

  beforeAll(async () => {
    dir = await tempDir('snapshot');
    await kafka.ensureTopic(topic, 3);
    const batch = (start: number) =>
      Array.from({ length: 60 }, (_, i) => ({ key: `m-${(start + i) % 5}`, value: JSON.stringify({ seq: start + i, temperature_c: 70 + ((start + i) % 9), note: 'a,"b"' }) }));
    await kafka.produce(topic, batch(0));
    await new Promise((r) => setTimeout(r, 50));
    middle = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    await kafka.produce(topic, batch(60));
  });
  afterAll(async () => kafka.close());

  it('replays the whole topic into the same bytes every time', async () => {
    const a = await snapshotTopic(kafka, { topic }, path.join(dir, 'a.csv'));
    const b = await snapshotTopic(kafka, { topic, to: { offsets: Object.fromEntries(a.ranges.map((r) => [r.partition, Number(r.to)])) } }, path.join(dir, 'b.csv'));
    expect(a.records).toBe(120);
    expect(a.columns).toEqual(['note', 'seq', 'temperature_c']);
    expect(await sha(a.file)).toBe(await sha(b.file));
    const lines = (await fs.readFile(a.file, 'utf8')).trim().split('\n');
    expect(lines[0]).toBe('note,seq,temperature_c');
    expect(lines).toHaveLength(121);
    expect(lines[1]).toMatch(/^"a,""b""",\d+,\d+$/);
    const seqs = lines.slice(1).map((l) => Number(l.split(',')[2]));
    expect(new Set(seqs).size).toBe(120);
  });

  it('reads from a point in time', async () => {
    const s = await snapshotTopic(kafka, { topic, from: { timestamp: new Date(middle).toISOString() } }, path.join(dir, 'later.csv'));
    expect(s.records).toBe(60);
    const seqs = (await fs.readFile(s.file, 'utf8')).trim().split('\n').slice(1).map((l) => Number(l.split(',')[2]));
    expect(Math.min(...seqs)).toBe(60);
  });

  it('refuses offsets outside the stored range and unknown partitions, naming the field', async () => {
    await expect(snapshotTopic(kafka, { topic, to: { offsets: { 0: 10_000 } } }, path.join(dir, 'x.csv'))).rejects.toThrow('dataset.kafka.to.offsets.0');
    await expect(snapshotTopic(kafka, { topic, from: { offsets: { 7: 0 } } }, path.join(dir, 'y.csv'))).rejects.toThrow('has no partition 7');
    await expect(fs.stat(path.join(dir, 'x.csv'))).rejects.toThrow();
  });

  it('fails on records that are not JSON objects, with their positions', async () => {
    const dirty = `test.snapshot.dirty.${randomUUID()}`;
    await kafka.ensureTopic(dirty, 1);
    await kafka.produce(dirty, [
      { key: null, value: '{"a":1}' },
      { key: null, value: 'not json' },
      { key: null, value: '[1,2]' },
    ]);
    await expect(snapshotTopic(kafka, { topic: dirty }, path.join(dir, 'dirty.csv'))).rejects.toThrow('2 records are not JSON objects: partition 0 offset 1');
  });
});
