import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { Partitioners } from 'kafkajs';
import { createKafka } from '../../../core/kafka/transactions';
import { deadLetterHeaders } from '../../../core/pipeline/dead-letter';
import { runProcessor, type ProcessorCheckpoint } from '../../../core/pipeline/processor';
import type { PipelineSpec, TransformSpec } from '../../../core/pipeline/spec';
import type { ValidatedPipeline } from '../../../core/pipeline/validate';
import { testNames } from '../../helpers/stack';
import { until } from '../../helpers/until';
import { killGroup } from '../../helpers/worker-process';
import { brokers, deleteTopics, readTopic, setUpPipeline } from './streams';

const root = path.resolve(import.meta.dirname, '../../..');
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deleteTopics(p).catch(() => undefined);
});

interface Reading {
  m: string;
  v: number;
  ts: string;
}

function spec(prefix: string, transform: Record<string, unknown>, guarantee: PipelineSpec['guarantee']): PipelineSpec {
  prefixes.push(prefix);
  return {
    name: prefix,
    guarantee,
    topics: [
      { name: `${prefix}.in`, partitions: 3, external: true, fields: { m: 'string', v: 'number', ts: 'string' } },
      { name: `${prefix}.out`, partitions: 3 },
    ],
    transforms: [{ name: 'step', input: `${prefix}.in`, output: `${prefix}.out`, ...transform } as TransformSpec],
  };
}

/** Produces records, optionally each to a given partition, through a plain producer. */
async function produce(
  topic: string,
  records: Array<{ key: string | null; value: string; partition?: number }>,
): Promise<void> {
  // Idempotent: a plain producer that retries a timed-out request under load writes its records twice.
  const producer = createKafka(brokers, 'mloop-test-producer').producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 500)
      await producer.send({ topic, acks: -1, messages: records.slice(i, i + 500) });
  } finally {
    await producer.disconnect();
  }
}

const readings = (n: number, machines = 6, from = 0): Reading[] =>
  Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return { m: `M-${i % machines}`, v: (i % 17) + 0.5, ts: new Date(Date.UTC(2026, 0, 1) + i * 100).toISOString() };
  });
const asRecords = (rs: Reading[]): Array<{ key: string; value: string }> =>
  rs.map((r) => ({ key: r.m, value: JSON.stringify(r) }));

/** A processor running in this process until `stop()`. */
function start(
  pipeline: ValidatedPipeline,
  replica = 0,
): { last: () => ProcessorCheckpoint | null; stop: () => Promise<ProcessorCheckpoint> } {
  const controller = new AbortController();
  let last: ProcessorCheckpoint | null = null;
  const done = runProcessor({
    brokers,
    pipeline,
    transform: 'step',
    replica,
    signal: controller.signal,
    sessionTimeoutMs: 6000,
    checkpointIntervalMs: 200,
    onCheckpoint: (c) => (last = c),
  });
  done.catch(() => undefined);
  return {
    last: () => last,
    stop: async () => {
      controller.abort();
      return done;
    },
  };
}

/** Windows computed directly from the readings: count and sum per machine and second. */
function expectedWindows(rs: Reading[]): Map<string, { n: number; s: number }> {
  const out = new Map<string, { n: number; s: number }>();
  for (const r of rs) {
    const start = new Date(Math.floor(Date.parse(r.ts) / 1000) * 1000).toISOString();
    const k = `${r.m}|${start}`;
    const w = out.get(k) ?? { n: 0, s: 0 };
    out.set(k, { n: w.n + 1, s: w.s + r.v });
  }
  return out;
}

/** Readings far in the future, one per partition, so every earlier window closes. */
const flushes = (topic: string): Promise<void> =>
  produce(
    topic,
    [0, 1, 2].map((partition) => ({
      key: 'flush',
      partition,
      value: JSON.stringify({ m: 'flush', v: 0, ts: '2030-01-01T00:00:00Z' }),
    })),
  );

const windowTransform = {
  kind: 'window',
  key: 'm',
  time: 'ts',
  window: { type: 'tumbling', size: '1s' },
  aggregates: { n: { op: 'count' }, s: { op: 'sum', field: 'v' } },
} as const;

describe('stream processor', () => {
  it('maps records, and dead-letters malformed ones with the reason and source offset in headers', async () => {
    const { prefix } = testNames('map-dead-letters');
    const pipeline = await setUpPipeline(
      spec(prefix, { kind: 'map', set: { inv: '1 / v' }, rename: { v: 'value' }, drop: ['ts'] }, 'at-least-once'),
    );
    const good = readings(300);
    await produce(`${prefix}.in`, [
      ...asRecords(good),
      { key: 'a', value: 'not json' },
      { key: 'b', value: JSON.stringify({ m: 'M-1', ts: 'x' }) },
      { key: 'c', value: JSON.stringify({ m: 'M-1', v: 0, ts: 'x' }) },
      { key: 'd', value: JSON.stringify({ m: 'M-1', v: 'hot', ts: 'x' }) },
    ]);
    const p = start(pipeline);
    const seen = await until(
      'all records processed',
      async () => ((p.last()?.counts.consumed ?? 0) >= 304 ? (p.last() as ProcessorCheckpoint) : undefined),
      60_000,
    );
    const final = await p.stop();
    expect(seen.counts).toMatchObject({ consumed: 304, produced: 300, deadLettered: 4 });
    expect(final.counts.consumed).toBe(304);
    // Partitions start in parallel on one shared producer: none may fail for finding it unconnected.
    expect(final.counts.errors, final.lastError ?? '').toBe(0);
    const out = await readTopic(`${prefix}.out`);
    expect(out).toHaveLength(300);
    const byKey = out.map((r) => JSON.parse(r.value) as Record<string, unknown>);
    expect(byKey[0]).toEqual({ m: expect.any(String), value: expect.any(Number), inv: expect.any(Number) });
    for (const r of byKey) expect(r.inv).toBe(1 / (r.value as number));
    const dead = await readTopic(pipeline.deadLetterTopic);
    const reasons = Object.fromEntries(dead.map((r) => [r.key, r.headers?.[deadLetterHeaders.reason]]));
    expect(reasons).toEqual({
      a: 'not valid JSON',
      b: 'missing field "v"',
      c: 'division by zero',
      d: 'field "v" is "hot", not a number',
    });
    for (const r of dead) {
      expect(r.headers?.[deadLetterHeaders.sourceTopic]).toBe(`${prefix}.in`);
      expect(r.headers?.[deadLetterHeaders.stage]).toBe('step');
      const source = await readTopic(`${prefix}.in`);
      const original = source.find(
        (s) =>
          s.partition === Number(r.headers?.[deadLetterHeaders.sourcePartition]) &&
          s.offset === r.headers?.[deadLetterHeaders.sourceOffset],
      );
      expect(original?.value).toBe(r.value);
    }
  });

  it.each(['exactly-once', 'at-least-once'] as const)(
    '%s windows: a processor stopped midway and started again emits every window once, with all its records',
    async (guarantee) => {
      const { prefix } = testNames(`${guarantee}-window-restart`);
      const pipeline = await setUpPipeline(spec(prefix, windowTransform, guarantee));
      const data = readings(3000);
      await produce(`${prefix}.in`, asRecords(data.slice(0, 1500)));
      const first = start(pipeline);
      await until(
        'part of the input processed',
        async () => ((first.last()?.counts.consumed ?? 0) > 0 ? true : undefined),
        60_000,
      );
      const firstRun = await first.stop();
      expect(firstRun.counts.consumed).toBeLessThanOrEqual(1500);
      await produce(`${prefix}.in`, asRecords(data.slice(1500)));
      await flushes(`${prefix}.in`);
      const second = start(pipeline);
      const expected = expectedWindows(data);
      await until(
        'every window emitted',
        async () => ((await readTopic(`${prefix}.out`)).length >= expected.size ? true : undefined),
        90_000,
        1000,
      );
      const secondRun = await second.stop();
      expect(firstRun.counts.consumed + secondRun.counts.consumed).toBe(3003);
      const out = (await readTopic(`${prefix}.out`)).map(
        (r) => JSON.parse(r.value) as { m: string; window_start: string; n: number; s: number },
      );
      const got = new Map(out.map((w) => [`${w.m}|${w.window_start}`, { n: w.n, s: w.s }]));
      expect(out).toHaveLength(expected.size);
      expect(got.size).toBe(expected.size);
      for (const [k, w] of expected) expect(got.get(k), k).toEqual({ n: w.n, s: expect.closeTo(w.s, 9) });
    },
  );

  it(
    'exactly-once: stopped at its first commit and started again, ' +
      'a map over multi-slice batches writes each record once',
    async () => {
      const { prefix } = testNames('eos-slices-restart');
      const pipeline = await setUpPipeline(spec(prefix, { kind: 'map', set: { w: 'v * 2' } }, 'exactly-once'));
      // Several slices (2000 records) per partition batch.
      const data = readings(50_000, 7);
      await produce(`${prefix}.in`, asRecords(data));
      // Stopped at its first commit, while the other partitions' slices are on their way.
      const controller = new AbortController();
      const firstRun = await runProcessor({
        brokers,
        pipeline,
        transform: 'step',
        signal: controller.signal,
        checkpointIntervalMs: 5,
        onCheckpoint: (c) => c.counts.consumed > 0 && controller.abort(),
      });
      expect(firstRun.counts.consumed).toBeGreaterThan(0);
      expect(firstRun.counts.consumed).toBeLessThan(50_000);
      const second = start(pipeline);
      await until('the rest processed', async () =>
        firstRun.counts.consumed + (second.last()?.counts.consumed ?? 0) >= 50_000 ? true : undefined,
      );
      const secondRun = await second.stop();
      expect(firstRun.counts.consumed + secondRun.counts.consumed).toBe(50_000);
      const out = (await readTopic(`${prefix}.out`)).map((r) => r.value);
      expect(out).toHaveLength(50_000);
      const want = data.map((r) => JSON.stringify({ ...r, w: r.v * 2 })).sort();
      expect(out.sort()).toEqual(want);
    },
  );

  it('two replicas share the partitions; when one stops, the other takes over with nothing lost', async () => {
    const { prefix } = testNames('replicas-take-over');
    const pipeline = await setUpPipeline(spec(prefix, { kind: 'filter', where: 'v >= 0' }, 'at-least-once'));
    const data = readings(900);
    await produce(`${prefix}.in`, asRecords(data.slice(0, 300)));
    const a = start(pipeline, 0);
    const b = start(pipeline, 1);
    const split = await until(
      'both replicas own partitions',
      async () => {
        const pa = a.last()?.partitions.length ?? 0;
        const pb = b.last()?.partitions.length ?? 0;
        return pa > 0 && pb > 0 && pa + pb === 3 ? [pa, pb] : undefined;
      },
      60_000,
    );
    expect(split.sort()).toEqual([1, 2]);
    await until('the first records processed', async () =>
      (a.last()?.counts.consumed ?? 0) + (b.last()?.counts.consumed ?? 0) >= 300 ? true : undefined,
    );
    const bDone = await b.stop();
    await produce(`${prefix}.in`, asRecords(data.slice(300)));
    await until('a owns every partition', async () => (a.last()?.partitions.length === 3 ? true : undefined), 60_000);
    await until(
      'everything processed',
      async () => ((a.last()?.counts.consumed ?? 0) + bDone.counts.consumed >= 900 ? true : undefined),
      60_000,
    );
    await a.stop();
    const out = (await readTopic(`${prefix}.out`)).map((r) => r.value);
    expect(new Set(out)).toEqual(new Set(asRecords(data).map((r) => r.value)));
    // At least once: a graceful stop commits what it processed, so here nothing repeats.
    expect(out).toHaveLength(900);
  });

  it(
    'exactly-once: a replica SIGKILLed mid-stream is taken over by the other; windows come out ' +
      'once each, complete',
    async () => {
      const { prefix } = testNames('eos-window-sigkill');
      const pipeline = await setUpPipeline(spec(prefix, windowTransform, 'exactly-once'));
      const data = readings(6000, 12);
      const child = spawn(
        path.join(root, 'node_modules/.bin/tsx'),
        [path.join(import.meta.dirname, 'processor-child.ts')],
        {
          env: {
            ...process.env,
            MLOOP_TEST_PIPELINE: JSON.stringify(pipeline),
            MLOOP_TEST_BROKERS: brokers.join(','),
            MLOOP_TEST_TRANSFORM: 'step',
          },
          stdio: ['ignore', 'pipe', 'inherit'],
          detached: true,
        },
      );
      let childLast: ProcessorCheckpoint | null = null;
      createInterface({ input: child.stdout }).on('line', (line) => {
        try {
          childLast = JSON.parse(line) as ProcessorCheckpoint;
        } catch {
          /* not a checkpoint */
        }
      });
      const local = start(pipeline, 0);
      try {
        await until(
          'the child owns partitions',
          async () =>
            (childLast?.partitions.length ?? 0) > 0 && (local.last()?.partitions.length ?? 0) > 0 ? true : undefined,
          60_000,
        );
        await produce(`${prefix}.in`, asRecords(data.slice(0, 2000)));
        await until(
          'the child processed records',
          async () => ((childLast?.counts.consumed ?? 0) > 0 ? true : undefined),
          60_000,
        );
        killGroup(child, 'SIGKILL');
        await produce(`${prefix}.in`, asRecords(data.slice(2000)));
        await flushes(`${prefix}.in`);
        const expected = expectedWindows(data);
        await until(
          'every window emitted',
          async () => ((await readTopic(`${prefix}.out`)).length >= expected.size ? true : undefined),
          120_000,
          1000,
        );
        const out = (await readTopic(`${prefix}.out`)).map(
          (r) => JSON.parse(r.value) as { m: string; window_start: string; n: number; s: number },
        );
        expect(out).toHaveLength(expected.size);
        const got = new Map(out.map((w) => [`${w.m}|${w.window_start}`, { n: w.n, s: w.s }]));
        for (const [k, w] of expected) expect(got.get(k), k).toEqual({ n: w.n, s: expect.closeTo(w.s, 9) });
        expect(local.last()?.partitions.length).toBe(3);
      } finally {
        killGroup(child, 'SIGKILL');
        await local.stop();
      }
    },
  );
});
