import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotTopic } from '../../../core/data/topic-snapshot';
import { createKafkaAdapter } from '../../../core/kafka/adapter';
import { config, tempDir } from '../../helpers/stack';

const sha = async (file: string): Promise<string> =>
  createHash('sha256')
    .update(await fs.readFile(file))
    .digest('hex');

describe('Kafka topic replay into a dataset snapshot (real broker)', () => {
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'mloop-test-snapshot' });
  const topic = `test.snapshot.${randomUUID()}`;
  let dir: string;
  let middle: number;

  beforeAll(async () => {
    dir = await tempDir('snapshot');
    await kafka.ensureTopic(topic, 3);
    const batch = (start: number) =>
      Array.from({ length: 60 }, (_, i) => ({
        key: `m-${(start + i) % 5}`,
        value: JSON.stringify({ seq: start + i, temperature_c: 70 + ((start + i) % 9), note: 'a,"b"' }),
      }));
    await kafka.produce(topic, batch(0));
    await new Promise((r) => setTimeout(r, 50));
    middle = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    await kafka.produce(topic, batch(60));
  });
  afterAll(async () => kafka.close());

  it('replays the whole topic into the same bytes every time', async () => {
    const a = await snapshotTopic(kafka, { topic }, path.join(dir, 'a.csv'));
    const b = await snapshotTopic(
      kafka,
      { topic, to: { offsets: Object.fromEntries(a.ranges.map((r) => [r.partition, Number(r.to)])) } },
      path.join(dir, 'b.csv'),
    );
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
    const s = await snapshotTopic(
      kafka,
      { topic, from: { timestamp: new Date(middle).toISOString() } },
      path.join(dir, 'later.csv'),
    );
    expect(s.records).toBe(60);
    const seqs = (await fs.readFile(s.file, 'utf8'))
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => Number(l.split(',')[2]));
    expect(Math.min(...seqs)).toBe(60);
  });

  it('refuses offsets outside the stored range and unknown partitions, naming the field', async () => {
    await expect(
      snapshotTopic(kafka, { topic, to: { offsets: { 0: 10_000 } } }, path.join(dir, 'x.csv')),
    ).rejects.toThrow('dataset.kafka.to.offsets.0');
    await expect(snapshotTopic(kafka, { topic, from: { offsets: { 7: 0 } } }, path.join(dir, 'y.csv'))).rejects.toThrow(
      'has no partition 7',
    );
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
    await expect(snapshotTopic(kafka, { topic: dirty }, path.join(dir, 'dirty.csv'))).rejects.toThrow(
      '2 records are not JSON objects of at most 64 levels: ' +
        'partition 0 offset 1: not a JSON object; partition 0 offset 2: not a JSON object',
    );
  });

  it('refuses a record nested 20,000 levels deep by its position, and keeps one nested 64 levels', async () => {
    const deep = `test.snapshot.deep.${randomUUID()}`;
    await kafka.ensureTopic(deep, 1);
    const nested = (levels: number): string => `{"a":1,"b":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
    // Brackets inside strings are text, not nesting.
    await kafka.produce(deep, [
      { key: null, value: nested(64) },
      { key: null, value: JSON.stringify({ a: 2, b: '['.repeat(30_000) }) },
    ]);
    const ok = await snapshotTopic(kafka, { topic: deep }, path.join(dir, 'deep-ok.csv'));
    expect(ok.records).toBe(2);
    expect((await fs.readFile(ok.file, 'utf8')).split('\n')[1]).toBe(`1,${'['.repeat(63)}${']'.repeat(63)}`);

    await kafka.produce(deep, [{ key: null, value: nested(20_000) }]);
    const err = await snapshotTopic(kafka, { topic: deep }, path.join(dir, 'deep.csv')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DatasetInvalid' });
    expect((err as Error).message).toBe(
      `topic "${deep}": 1 record is not a JSON object of at most 64 levels: ` +
        'partition 0 offset 2: nested more than 64 levels deep',
    );
    await expect(fs.stat(path.join(dir, 'deep.csv'))).rejects.toThrow();
  });
});
