import { afterAll, describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../../core/kafka/adapter';
import { createKafka } from '../../../core/kafka/transactions';
import { changelogTopic } from '../../../core/pipeline/processor';
import type { PipelineSpec, TransformSpec } from '../../../core/pipeline/spec';
import { createStage } from '../../../core/pipeline/stages';
import { testNames } from '../../helpers/stack';
import { brokers, deleteTopics, setUpPipeline } from './streams';

const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deleteTopics(p).catch(() => undefined);
});

const reading = (i: number): ConsumedRecord => ({
  topic: 'in',
  partition: 0,
  offset: String(i),
  timestamp: '0',
  key: 'M-1',
  value: JSON.stringify({ m: 'M-1', v: i, ts: new Date(Date.UTC(2026, 0, 1) + i * 100).toISOString() }),
  headers: {},
});

describe('window stage (real Kafka changelog)', () => {
  it(
    'counts records whose state reached the changelog but whose offsets were not committed, ' +
      'once, when they come again',
    async () => {
      const { prefix } = testNames('window-uncommitted');
      prefixes.push(prefix);
      const transform = {
        name: 'w',
        kind: 'window',
        input: `${prefix}.in`,
        output: `${prefix}.out`,
        key: 'm',
        time: 'ts',
        window: { type: 'tumbling', size: '1s' },
        aggregates: { n: { op: 'count' } },
      } as TransformSpec;
      const spec: PipelineSpec = {
        name: prefix,
        guarantee: 'at-least-once',
        topics: [
          { name: `${prefix}.in`, external: true, fields: { m: 'string', v: 'number', ts: 'string' } },
          { name: `${prefix}.out` },
        ],
        transforms: [transform],
      };
      const pipeline = await setUpPipeline(spec);
      const kafka = createKafka(brokers, 'mloop-test-window');
      const ctx = {
        kafka,
        inputFields: pipeline.fields[`${prefix}.in`] ?? {},
        changelogTopic: changelogTopic(prefix, 'w'),
      };
      const batch = {
        topic: `${prefix}.in`,
        partition: 0,
        records: Array.from({ length: 25 }, (_, i) => reading(i)),
        highWatermark: '25',
      };

      // A first owner applies the batch and its state reaches the changelog; then its offset commit fails.
      const first = createStage(transform, ctx);
      await first.acquire(0, null);
      const applied = await first.process(batch, new AbortController().signal);
      expect(applied.processed).toBe(25);
      expect(applied.outputs.map((o) => JSON.parse(o.value).n)).toEqual([10, 10]);
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      await producer.send({ topic: ctx.changelogTopic, acks: -1, messages: [applied.changelog as never] });
      await producer.disconnect();

      // The batch comes again from the committed offset: nothing is applied or emitted twice, and its
      // records count as consumed, since this time their offsets are committed.
      const again = createStage(transform, ctx);
      await again.acquire(0, null);
      const replayed = await again.process(batch, new AbortController().signal);
      expect(replayed.outputs).toEqual([]);
      expect(replayed.processed).toBe(25);
      // Part of a batch already applied: the rest goes on from the state.
      const more = { ...batch, records: Array.from({ length: 15 }, (_, i) => reading(20 + i)), highWatermark: '35' };
      const next = await again.process(more, new AbortController().signal);
      expect(next.processed).toBe(15);
      expect(next.outputs.map((o) => JSON.parse(o.value).n)).toEqual([10]);
    },
  );
});
