import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../../../core/kafka/adapter';
import { createPostgresSink } from '../../../core/connectors/postgres-sink';
import { runSink, type SinkStatus } from '../../../core/connectors/sink-runner';
import { deadLetterHeaders } from '../../../core/pipeline/dead-letter';
import type { PostgresSink } from '../../../core/pipeline/spec';
import { testNames } from '../../helpers/stack';
import { until } from '../../helpers/until';
import { brokers, deleteTopics, readTopic } from '../pipeline/streams';
import { connectorPipeline } from './pipelines';
import { service, type Service } from './services';

let postgres: Service;
const prefixes: string[] = [];
beforeAll(async () => {
  postgres = await service('postgres');
});
afterAll(async () => {
  await postgres?.remove();
  for (const p of prefixes) await deleteTopics(p).catch(() => undefined);
});

const fields = {
  machine_id: 'string',
  window_start: 'string',
  probability: 'number',
  readings: 'integer',
  meta: 'any',
} as const;
const row = (i: number, probability: number): Record<string, unknown> => ({
  machine_id: `M-${i % 50}`,
  window_start: '2026-01-01T00:00:00.000Z',
  probability,
  readings: i,
  meta: { batch: Math.floor(i / 50) },
});

async function rows(table: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    return (await client.query(`select * from ${table} order by machine_id`)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

describe('PostgreSQL sink', () => {
  it(
    'upserts by key (a replay writes no duplicate row), dead-letters refused rows, and waits ' + 'out a server restart',
    async () => {
      const { prefix } = testNames('postgres-sink');
      prefixes.push(prefix);
      const table = prefix.replace(/-/g, '_');
      const sinkSpec = { name: 'db', kind: 'postgres', table, key: ['machine_id', 'window_start'] } as const;
      const pipeline = await connectorPipeline(prefix, fields, { sink: sinkSpec });
      const kafka = createKafkaAdapter({ brokers });
      const topic = `${prefix}.data`;
      const produce = (values: unknown[]): Promise<void> =>
        // Keyed by machine, as the pipeline keys them: one machine's records stay in order.
        kafka.produce(
          topic,
          values.map((v) => ({
            key: typeof v === 'string' ? null : String((v as Record<string, unknown>).machine_id),
            value: typeof v === 'string' ? v : JSON.stringify(v),
          })),
        );

      // 100 records over 50 keys: the second of each key (probability 0.9) wins.
      await produce([
        ...Array.from({ length: 50 }, (_, i) => row(i, 0.1)),
        ...Array.from({ length: 50 }, (_, i) => row(i + 50, 0.9)),
      ]);
      await produce(['not json', { ...row(1, 0.5), machine_id: null }]);
      const controller = new AbortController();
      let status: SinkStatus | null = null;
      const running = runSink({
        brokers,
        pipeline,
        sink: 'db',
        writer: createPostgresSink(pipeline.spec.sinks?.[0] as PostgresSink, pipeline.fields[topic] ?? {}, {
          connectionString: postgres.url,
        }),
        signal: controller.signal,
        statusIntervalMs: 200,
        sessionTimeoutMs: 6000,
        onStatus: (s) => (status = s),
      });
      try {
        await until('the first records written', async () =>
          (status?.written ?? 0) + (status?.deadLettered ?? 0) >= 102 ? true : undefined,
        );
        let got = await rows(table);
        expect(got).toHaveLength(50);
        expect(got.every((r) => r.probability === 0.9)).toBe(true);
        expect(got[0]).toMatchObject({
          machine_id: 'M-0',
          window_start: '2026-01-01T00:00:00.000Z',
          readings: '50',
          meta: { batch: 1 },
        });

        // A replay of the same records changes nothing.
        await produce([...Array.from({ length: 50 }, (_, i) => row(i + 50, 0.9))]);
        await until('the replay written', async () => ((status?.written ?? 0) >= 150 ? true : undefined));
        expect(await rows(table)).toEqual(got);

        // The server goes away: new records wait, then arrive.
        await postgres.stop();
        await produce(Array.from({ length: 20 }, (_, i) => ({ ...row(i, 0.3), machine_id: `N-${i}` })));
        await until('a failed attempt while the server is down', async () =>
          (status?.errors ?? 0) > 0 ? true : undefined,
        );
        expect((status as SinkStatus | null)?.written).toBe(150);
        await postgres.start();
        await until(
          'the waiting records written',
          async () => ((status?.written ?? 0) >= 170 ? true : undefined),
          60_000,
        );
        got = await rows(table);
        expect(got).toHaveLength(70);
        expect(got.filter((r) => String(r.machine_id).startsWith('N-'))).toHaveLength(20);
      } finally {
        controller.abort();
        await running;
        await kafka.close();
      }
      const dead = await readTopic(pipeline.deadLetterTopic);
      // Two partitions: sorted, since their order on reading back is not fixed.
      expect(dead.map((d) => d.headers?.[deadLetterHeaders.reason]).sort()).toEqual([
        expect.stringMatching(/^PostgreSQL refused the row: null value in column "machine_id"/),
        'not valid JSON',
      ]);
    },
  );
});
