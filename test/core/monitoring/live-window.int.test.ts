import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../../../core/kafka/adapter';
import { readLiveWindow } from '../../../core/monitoring/live-window';
import { config, tempDir, testNames } from '../../helpers/stack';

describe('the live window of a topic, by event time (real Kafka)', () => {
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'live-window-test' });
  afterAll(() => kafka.close());

  it(
    'keeps exactly the records with event times in [start, end), ' + 'counts the unreadable, reads nothing before',
    async () => {
      const topic = `${testNames('live-window').prefix}-in`;
      await kafka.ensureTopic(topic, 3);
      const end = new Date(Math.floor(Date.now() / 1000) * 1000);
      const start = new Date(end.getTime() - 10 * 60_000);
      const at = (ms: number) => JSON.stringify({ x: ms, ts: new Date(ms).toISOString() });
      await kafka.produce(topic, [
        { key: 'a', value: at(start.getTime()) },
        { key: 'b', value: at(end.getTime() - 1) },
        { key: 'c', value: at(end.getTime()) },
        { key: 'd', value: at(start.getTime() - 1) },
        { key: 'e', value: JSON.stringify({ x: 1, ts: String(start.getTime() + 5) }) },
        { key: 'f', value: JSON.stringify({ x: 2, ts: start.getTime() + 6 }) },
        { key: 'g', value: JSON.stringify({ x: 3 }) },
        { key: 'h', value: JSON.stringify({ x: 4, ts: 'soon' }) },
        { key: 'i', value: '[1, 2]' },
        { key: 'j', value: '{not json' },
      ]);
      const dir = await tempDir('live-window');
      const file = path.join(dir, 'w.jsonl');
      const w = await readLiveWindow(kafka, { topic, eventTimeField: 'ts', start, end, file });
      expect(w).toMatchObject({ rows: 4, unreadable: 4, outside: 2 });
      const lines = (await fs.readFile(file, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { x: number });
      expect(lines.map((l) => l.x).sort((a, b) => a - b)).toEqual(
        [1, 2, start.getTime(), end.getTime() - 1].sort((a, b) => a - b),
      );

      // A window after every record: nothing is read, the file is empty but there.
      const later = path.join(dir, 'later.jsonl');
      const after = new Date(Date.now() + 10 * 60_000);
      const none = await readLiveWindow(kafka, {
        topic,
        eventTimeField: 'ts',
        start: after,
        end: new Date(after.getTime() + 60_000),
        file: later,
      });
      expect(none).toEqual({ rows: 0, unreadable: 0, outside: 0, ranges: [] });
      expect(await fs.readFile(later, 'utf8')).toBe('');
      // The file is never overwritten.
      await expect(readLiveWindow(kafka, { topic, eventTimeField: 'ts', start, end, file })).rejects.toThrow(/EEXIST/);
    },
  );

  it('a topic that does not exist is an error naming the input topic', async () => {
    const topic = `${testNames('live-window-missing').prefix}-none`;
    const file = path.join(await tempDir('live-window'), 'w.jsonl');
    await expect(
      readLiveWindow(kafka, { topic, eventTimeField: 'ts', start: new Date(0), end: new Date(), file }),
    ).rejects.toThrow(/^input\.topic: cannot read topic/);
  });
});
