import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineSpec } from '../../core/pipeline/spec';
import {
  pipelineStatusQuery,
  pipelineWorkflowId,
  searchAttributes,
  stopPipelineUpdate,
  type PipelineInput,
  type PipelineStatus,
} from '../../workflows/definitions';
import { deleteTopicsStartingWith } from '../api/pipelines-fixture';
import { readTopic } from '../core/pipeline/streams';
import { startTestStack, testNames, type TestStack } from '../helpers/stack';
import { until } from '../helpers/until';

/**
 * The pipeline workflow on the real Temporal server and Kafka broker: it continues as new while
 * its units run, carrying their figures and the source's place, and it restarts a unit that
 * fails with backoff, counting the restarts, until the unit can run.
 */
describe('pipeline workflow: continue-as-new and supervised restarts (real Temporal and Kafka)', () => {
  let stack: TestStack;
  const prefixes: string[] = [];
  beforeAll(async () => {
    stack = await startTestStack('pipeline-workflow');
  });
  afterAll(async () => {
    for (const p of prefixes) await deleteTopicsStartingWith(p).catch(() => undefined);
    await stack?.stop();
  });

  it(
    'continues as new several times and keeps every reading once, ' + 'and restarts a failing sink until it runs',
    async () => {
      const { prefix: p } = testNames('pipeline-can');
      prefixes.push(p);
      const deliveries = new Set<string>();
      const receiver = http.createServer((req, res) => {
        deliveries.add(String(req.headers['x-mloop-delivery']));
        req.resume();
        req.on('end', () => res.writeHead(204).end());
      });
      const url = await new Promise<string>((resolve) =>
        receiver.listen(0, '127.0.0.1', () =>
          resolve(`http://127.0.0.1:${(receiver.address() as { port: number }).port}/`),
        ),
      );
      const secretEnv = `MLOOP_TEST_SECRET_${p.replace(/[^a-z0-9]/g, '_').toUpperCase()}`;
      delete process.env[secretEnv];
      const count = 3000;
      const spec: PipelineSpec = {
        name: p,
        guarantee: 'exactly-once',
        topics: [
          { name: `${p}.readings`, partitions: 2 },
          { name: `${p}.hot`, partitions: 2 },
        ],
        sources: [
          {
            name: 'sensors',
            kind: 'sensors',
            topic: `${p}.readings`,
            key: 'machine_id',
            rate: 250,
            count,
            seed: 3,
            machines: 10,
            start: '2026-01-01T00:00:00Z',
            interval: '100ms',
          },
        ],
        transforms: [
          {
            name: 'tag',
            kind: 'map',
            input: `${p}.readings`,
            output: `${p}.hot`,
            set: { hot: 'temperature_c > 80' },
          },
        ],
        sinks: [{ name: 'hook', kind: 'webhook', topic: `${p}.hot`, url, secretEnv }],
      };
      // A small history limit: the workflow continues as new every few seconds while the sensors send.
      const input: PipelineInput = {
        spec,
        requestedBy: 'tester',
        streamTaskQueue: stack.queues.stream,
        reportIntervalMs: 200,
        maxHistoryEvents: 150,
      };
      const handle = stack.client.workflow.getHandle(pipelineWorkflowId(p));
      await stack.client.workflow.start('pipeline', {
        workflowId: pipelineWorkflowId(p),
        taskQueue: stack.queues.control,
        args: [input],
      });
      // Every status read: a unit drained for the next run is not stopped (health checks would call it dead).
      const stoppedWhileRunning: string[] = [];
      const status = async (): Promise<PipelineStatus> => {
        const s = await handle.query(pipelineStatusQuery);
        for (const u of [...s.transforms, ...s.sources, ...s.sinks])
          if (s.state === 'running' && u.state === 'stopped') stoppedWhileRunning.push(`${u.name} in run ${s.runs}`);
        return s;
      };
      try {
        // The sink cannot start without its secret: restarted with backoff, each restart counted.
        const failing = await until(
          'the sink restarted twice',
          async () => {
            const s = (await status()).sinks[0];
            return s && s.restarts >= 2 ? s : undefined;
          },
          60_000,
          200,
        );
        expect(failing.lastError).toContain(secretEnv);
        expect(failing.state).toBe('restarting');
        process.env[secretEnv] = 'now-set';

        const done = await until(
          'every reading through and delivered',
          async () => {
            const s = await status();
            const tag = s.transforms[0]?.counts.consumed ?? 0;
            const written = s.sinks[0]?.counts.written ?? 0;
            const through = tag >= count && deliveries.size >= count && written >= count;
            // The sink has its secret now: running, or starting again in a new run, never restarting.
            const recovered = s.sinks[0]?.state !== 'restarting';
            return s.sources[0]?.state === 'finished' && recovered && through ? s : undefined;
          },
          240_000,
          500,
        );
        expect(done.runs).toBeGreaterThan(1);
        expect(stoppedWhileRunning).toEqual([]);
        expect(done.sources[0]).toMatchObject({ counts: { sent: count } });
        expect(done.transforms[0]).toMatchObject({ counts: { consumed: count, produced: count } });
        expect(['running', 'starting']).toContain(done.sinks[0]?.state);
        // The sink's figures add up across the runs (its counters start at zero in each).
        expect(done.sinks[0]?.counts.written).toBe(count);
        expect(done.sinks[0]?.restarts).toBeGreaterThanOrEqual(2);
        // Every reading once: the source went on from its place at each new run.
        const out = (await readTopic(`${p}.hot`)).map((r) => JSON.parse(r.value) as { ts: string; hot: boolean });
        expect(out).toHaveLength(count);
        expect(new Set(out.map((o) => o.ts)).size).toBe(count);
        expect(deliveries.size).toBe(count);

        // A later run still adds its figures up to everything (each run's counters start at zero).
        await until('a later run', async () => ((await status()).runs > done.runs ? true : undefined), 60_000, 200);
        await new Promise((r) => setTimeout(r, 3000));
        const later = await status();
        expect(later.sinks[0]?.counts.written).toBe(count);
        expect(later.transforms[0]?.counts.consumed).toBe(count);
        const desc = await handle.describe();
        expect(desc.typedSearchAttributes.get(searchAttributes.stage)).toBe('pipeline');
        const final = await handle.executeUpdate(stopPipelineUpdate, { args: [{ by: 'tester' }] });
        expect(final).toMatchObject({ state: 'stopped' });
        expect([...final.transforms, ...final.sinks].map((u) => u.state)).toEqual(['stopped', 'stopped']);
        expect(final.sinks[0]?.counts.written).toBe(count);
        expect(final.transforms[0]?.counts.consumed).toBe(count);
        expect((await handle.describe()).status.name).toMatch(/COMPLETED|RUNNING/);
        await handle.result();
      } finally {
        delete process.env[secretEnv];
        await handle.terminate().catch(() => undefined);
        receiver.close();
      }
    },
    400_000,
  );
});
