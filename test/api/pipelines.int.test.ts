import { createHmac } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { postgresUrl } from '../../core/connectors/connectors';
import type { PipelineSpec } from '../../core/pipeline/spec';
import { sensorFields } from '../../core/pipeline/transform-fields';
import { KServeClient } from '../../core/serving/kserve-client';
import { createRng, featureColumns, generateReading } from '../../examples/predictive-maintenance/data/sensors';
import { pipelineWorkflowId, type PipelineStatus, type UnitStatus } from '../../workflows/definitions';
import { readTopic } from '../core/pipeline/streams';
import { as } from '../helpers/auth';
import { features } from '../helpers/deployment';
import { tempDir, testNames } from '../helpers/stack';
import { until } from '../helpers/until';
import {
  deleteTopicsStartingWith,
  examplePipeline,
  startPipelineFixture,
  topicsStartingWith,
  withTopicPrefix,
  type PipelineFixture,
} from './pipelines-fixture';

type StatusView = PipelineStatus & { status: string; id: string };

/**
 * Pipelines through the API on the real stack: Temporal, Kafka, PostgreSQL, and the example
 * model served by model-server processes behind HAProxy endpoints (production v1, staging v2).
 */
describe('pipelines through the API (real Temporal, Kafka, PostgreSQL, deployed model)', () => {
  let f: PipelineFixture;
  const prefixes: string[] = [];
  let work: string;
  const db = new pg.Client({ connectionString: postgresUrl(process.env) });
  const tables: string[] = [];

  beforeAll(async () => {
    work = await tempDir('pipelines-api');
    f = await startPipelineFixture('pipelines-api');
    await db.connect();
  }, 600_000);
  afterAll(async () => {
    for (const t of tables) await db.query(`drop table if exists "${t}"`).catch(() => undefined);
    await db.end().catch(() => undefined);
    for (const p of prefixes) await deleteTopicsStartingWith(p).catch(() => undefined);
    await f?.stop();
    await fs.rm(work, { recursive: true, force: true });
  }, 120_000);

  const names = (test: string): string => {
    const { prefix } = testNames(test);
    prefixes.push(prefix);
    return prefix;
  };
  const post = (payload: object | string) =>
    f.app.inject({
      method: 'POST',
      url: '/v1/pipelines',
      headers: {
        ...as('only-operator'),
        'content-type': typeof payload === 'string' ? 'application/yaml' : 'application/json',
      },
      payload,
    });
  const status = async (name: string): Promise<StatusView> => {
    const res = await f.app.inject({ method: 'GET', url: `/v1/pipelines/${name}`, headers: as('only-viewer') });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<StatusView>();
  };
  const unit = (s: StatusView, kind: 'transforms' | 'sources' | 'sinks', name: string): UnitStatus[] =>
    s[kind].filter((u) => u.name === name);
  const stopPipeline = async (name: string): Promise<StatusView> => {
    const res = await f.app.inject({ method: 'DELETE', url: `/v1/pipelines/${name}`, headers: as('only-operator') });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<StatusView>();
  };

  const featureFields = Object.fromEntries(featureColumns.map((c) => [c, 'number' as const]));

  it('refuses invalid specs naming the place, and creates no workflow and no topic', async () => {
    const cases: Array<{ what: string; spec: (p: string) => unknown; field: string; message: RegExp; yaml?: boolean }> =
      [
        {
          what: 'a cycle',
          yaml: true,
          spec: (p) => ({
            name: p,
            topics: [{ name: `${p}.a`, fields: { x: 'number' } }, { name: `${p}.b` }],
            transforms: [
              { name: 'there', kind: 'filter', input: `${p}.a`, output: `${p}.b`, where: 'x > 1' },
              { name: 'back', kind: 'filter', input: `${p}.b`, output: `${p}.a`, where: 'x > 1' },
            ],
          }),
          field: 'transforms[1].output',
          message: /makes a cycle: there → back → there/,
        },
        {
          what: 'a dangling topic',
          spec: (p) => ({
            name: p,
            topics: [
              { name: `${p}.in`, external: true, fields: { x: 'number' } },
              { name: `${p}.orphan` },
              { name: `${p}.out` },
              { name: `${p}.out2` },
            ],
            transforms: [
              { name: 'ok', kind: 'filter', input: `${p}.in`, output: `${p}.out`, where: 'x > 1' },
              { name: 'late', kind: 'filter', input: `${p}.orphan`, output: `${p}.out2`, where: 'true' },
            ],
          }),
          field: 'transforms[1].input',
          message: /nothing writes topic ".*\.orphan": no source or transform produces it/,
        },
        {
          what: "a field mismatch with the model's features",
          spec: (p) => {
            const { rpm: _rpm, ...withoutRpm } = featureFields;
            return {
              name: p,
              topics: [
                { name: `${p}.in`, external: true, fields: { machine_id: 'string', ...withoutRpm } },
                { name: `${p}.scores` },
              ],
              transforms: [
                {
                  name: 'score',
                  kind: 'model',
                  input: `${p}.in`,
                  output: `${p}.scores`,
                  model: f.model,
                  environment: 'production',
                },
              ],
            };
          },
          field: 'transforms[0].input',
          message: /the model reads "rpm" \(number\), which topic ".*\.in" does not have/,
        },
        {
          what: 'an unknown transform kind',
          spec: (p) => ({
            name: p,
            topics: [{ name: `${p}.in`, external: true, fields: { x: 'number' } }, { name: `${p}.out` }],
            transforms: [
              { name: 'ok', kind: 'filter', input: `${p}.in`, output: `${p}.out`, where: 'x > 1' },
              { name: 'j', kind: 'join', input: `${p}.in`, output: `${p}.out` },
              { name: 'k', kind: 'map', input: `${p}.in`, output: `${p}.out`, set: { y: 'x * 2' } },
            ],
          }),
          field: 'transforms[1].kind',
          message: /unknown transform kind "join"; expected one of filter, map, project, window, model/,
        },
      ];
    for (const c of cases) {
      const p = names('invalid');
      const spec = c.spec(p);
      const res = await post(c.yaml ? toYaml(spec) : (spec as object));
      expect(res.statusCode, `${c.what}: ${res.body}`).toBe(400);
      expect(res.json(), c.what).toMatchObject({
        error: 'InvalidInput',
        field: c.field,
        message: expect.stringMatching(c.message),
      });
      await expect(f.stack.client.workflow.getHandle(pipelineWorkflowId(p)).describe(), c.what).rejects.toBeInstanceOf(
        WorkflowNotFoundError,
      );
      expect(await topicsStartingWith(p), c.what).toEqual([]);
    }
  });

  it(
    'runs the example pipeline from the API: ' + 'the table and the alerts topic hold exactly the direct predictions',
    async () => {
      const p = names('example');
      // N readings of 20 machines, 50 ms apart in event time; then one reading per machine an
      // hour later, which moves every partition's event time past all the real windows.
      const N = 2000;
      const rng = createRng(11);
      const t0 = Date.parse('2026-01-01T00:00:00.000Z');
      const readings = Array.from({ length: N }, (_, i) => ({
        ...generateReading(rng, 20),
        ts: new Date(t0 + i * 50).toISOString(),
      }));
      const machines = [...new Set(readings.map((r) => r.machine_id))];
      const flush = machines.map((m) => ({
        ...generateReading(rng, 20),
        machine_id: m,
        ts: new Date(t0 + 3_600_000).toISOString(),
      }));
      const file = path.join(work, 'readings.jsonl');
      await fs.writeFile(file, [...readings, ...flush].map((r) => JSON.stringify(r)).join('\n') + '\n');

      // The webhook's receiver checks each signature.
      const secret = 'pipeline-test-secret';
      process.env.MLOOP_TEST_ALERTS_SECRET = secret;
      const deliveries = new Map<string, string>();
      let badSignatures = 0;
      const receiver = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
          if (req.headers['x-mloop-signature'] !== expected) badSignatures++;
          else deliveries.set(String(req.headers['x-mloop-delivery']), body);
          res.writeHead(204).end();
        });
      });
      const receiverUrl = await new Promise<string>((resolve) =>
        receiver.listen(0, '127.0.0.1', () =>
          resolve(`http://127.0.0.1:${(receiver.address() as { port: number }).port}/alerts`),
        ),
      );
      const table = `alerts_${p.replace(/[^a-z0-9]/g, '_')}`.slice(0, 60);
      tables.push(table);

      const example = await examplePipeline();
      const spec: PipelineSpec = withTopicPrefix(
        {
          ...example,
          sources: [
            {
              name: 'readings',
              kind: 'file',
              topic: 'sensors.live',
              key: 'machine_id',
              path: file,
              format: 'jsonl',
              fields: sensorFields,
            },
          ],
          sinks: (example.sinks ?? []).map((s) =>
            s.kind === 'postgres'
              ? { ...s, table }
              : s.kind === 'webhook'
                ? { ...s, url: receiverUrl, secretEnv: 'MLOOP_TEST_ALERTS_SECRET' }
                : s,
          ),
        },
        p,
      );
      expect(spec.guarantee).toBe('exactly-once');
      try {
        const res = await post(toYaml(spec));
        expect(res.statusCode, res.body).toBe(202);
        expect(res.json()).toMatchObject({ id: `pipeline/${p}`, name: p, links: { self: `/v1/pipelines/${p}` } });
        expect((await post(spec)).statusCode).toBe(409);

        // What the pipeline must produce, computed here: the windows' features scored by v1 directly.
        const windows = new Map<string, { machine_id: string; start: number; rows: typeof readings }>();
        for (const r of readings) {
          const start = Math.floor(Date.parse(r.ts) / 10_000) * 10_000;
          const key = `${r.machine_id}|${start}`;
          const w = windows.get(key) ?? { machine_id: r.machine_id, start, rows: [] };
          w.rows.push(r);
          windows.set(key, w);
        }
        const mean = (rows: typeof readings, c: (typeof featureColumns)[number]): number =>
          rows.reduce((s, r) => s + r[c], 0) / rows.length;
        const expected = [...windows.entries()].map(([key, w]) => ({
          key,
          machine_id: w.machine_id,
          window_start: new Date(w.start).toISOString(),
          readings: w.rows.length,
          temperature_c: mean(w.rows, 'temperature_c'),
          vibration_mm_s: mean(w.rows, 'vibration_mm_s'),
          pressure_bar: mean(w.rows, 'pressure_bar'),
          rpm: mean(w.rows, 'rpm'),
          operating_hours: Math.max(...w.rows.map((r) => r.operating_hours)),
        }));
        const direct = await new KServeClient(f.servers.v1, f.model).infer(expected, features);

        await until(
          'every window in the table',
          async () => {
            const s = await status(p);
            const written = unit(s, 'sinks', 'alerts-db')[0]?.counts.written ?? 0;
            return written >= expected.length && deliveries.size >= expected.length ? s : undefined;
          },
          240_000,
          500,
        );
        const s = await status(p);
        expect(s).toMatchObject({ state: 'running', guarantee: 'exactly-once', status: 'RUNNING' });
        expect(unit(s, 'sources', 'readings')).toMatchObject([
          { state: 'finished', counts: { produced: N + flush.length } },
        ]);
        const features2 = unit(s, 'transforms', 'features');
        expect(features2).toHaveLength(2);
        expect(features2.reduce((n, u) => n + (u.counts.consumed ?? 0), 0)).toBe(N + flush.length);
        expect(unit(s, 'transforms', 'score')[0]).toMatchObject({
          state: 'running',
          restarts: 0,
          modelVersion: '1',
          counts: { consumed: expected.length, produced: expected.length, deadLettered: 0 },
        });
        // Two replicas share the three input partitions.
        expect(features2.flatMap((u) => u.partitions.map((x) => x.partition)).sort()).toEqual([0, 1, 2]);

        const byKey = new Map(expected.map((e, i) => [e.key, { ...e, i }]));
        const alerts = (await readTopic(`${p}.failure-alerts`)).map(
          (r) => JSON.parse(r.value) as Record<string, unknown>,
        );
        const rows = (await db.query(`select * from "${table}"`)).rows as Array<Record<string, unknown>>;
        const webhook = [...deliveries.values()].map((b) => JSON.parse(b) as Record<string, unknown>);
        for (const [what, got] of [
          ['alerts topic', alerts],
          ['table', rows],
          ['webhook', webhook],
        ] as const) {
          expect(got, what).toHaveLength(expected.length);
          const seen = new Set<string>();
          for (const g of got) {
            const key = `${String(g.machine_id)}|${Date.parse(String(g.window_start))}`;
            expect(seen.has(key), `${what}: ${key} twice`).toBe(false);
            seen.add(key);
            const e = byKey.get(key);
            expect(e, `${what}: ${key} is not a window of the input`).toBeDefined();
            if (!e) continue;
            // PostgreSQL hands bigint columns back as text.
            expect(Number(g.readings), what).toBe(e.readings);
            for (const c of featureColumns) expect(g[c], `${what}: ${key} ${c}`).toBe(e[c]);
            expect(g.prediction, `${what}: ${key}`).toBe(direct.predictions[e.i]);
            expect(g.probability, `${what}: ${key}`).toBeCloseTo(direct.probabilities?.[e.i] ?? NaN, 12);
          }
        }
        expect(badSignatures).toBe(0);

        const listed = await f.app.inject({ method: 'GET', url: '/v1/pipelines', headers: as('only-viewer') });
        expect(listed.statusCode, listed.body).toBe(200);

        const final = await stopPipeline(p);
        expect(final).toMatchObject({ status: 'COMPLETED', state: 'stopped' });
        for (const u of [...final.transforms, ...final.sinks]) expect(u.state, `${u.kind} ${u.name}`).toBe('stopped');
        expect((await status(p)).status).toBe('COMPLETED');
        const again = await f.app.inject({ method: 'DELETE', url: `/v1/pipelines/${p}`, headers: as('only-operator') });
        expect(again.statusCode).toBe(404);
      } finally {
        await f.stack.client.workflow
          .getHandle(pipelineWorkflowId(p))
          .terminate()
          .catch(() => undefined);
        receiver.close();
      }
    },
    400_000,
  );

  it('swaps the model of a running pipeline through the Update without losing or repeating a record', async () => {
    const p = names('swap');
    const spec: PipelineSpec = {
      name: p,
      guarantee: 'exactly-once',
      topics: [
        { name: `${p}.in`, partitions: 3 },
        { name: `${p}.scores`, partitions: 3 },
      ],
      sources: [
        {
          name: 'ingest',
          kind: 'http',
          topic: `${p}.in`,
          key: 'machine_id',
          fields: { id: 'integer', machine_id: 'string', ...featureFields },
        },
      ],
      transforms: [
        {
          name: 'score',
          kind: 'model',
          input: `${p}.in`,
          output: `${p}.scores`,
          model: f.model,
          environment: 'production',
          batchSize: 64,
        },
      ],
    };
    const rng = createRng(3);
    const rows = Array.from({ length: 1000 }, (_, id) => ({ id, ...generateReading(rng, 30) }));
    try {
      expect((await post(spec)).statusCode).toBe(202);
      await until('the score replica running', async () => {
        const s = await status(p);
        return unit(s, 'transforms', 'score')[0]?.state === 'running' ? true : undefined;
      });
      const swap = (body: object, name = p, transform = 'score') =>
        f.app.inject({
          method: 'PUT',
          url: `/v1/pipelines/${name}/transforms/${transform}/model`,
          headers: as('only-operator'),
          payload: body,
        });
      const ingest = async (batch: typeof rows): Promise<void> => {
        const res = await f.app.inject({
          method: 'POST',
          url: `/v1/pipelines/${p}/ingest/ingest`,
          headers: as('only-operator'),
          payload: { records: batch },
        });
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json()).toEqual({ topic: `${p}.in`, accepted: batch.length });
      };
      for (let b = 0; b < 20; b++) {
        await ingest(rows.slice(b * 50, b * 50 + 50));
        if (b === 8) {
          const res = await swap({ environment: 'staging' });
          expect(res.statusCode, res.body).toBe(200);
          expect(res.json()).toEqual({
            transform: 'score',
            previous: { environment: 'production' },
            current: { environment: 'staging' },
            restarted: 1,
          });
        }
      }
      // Refusals: a version no deployment serves, a transform that is no model, a pipeline that is not there.
      const missing = await swap({ version: 9 });
      expect(missing.statusCode, missing.body).toBe(400);
      expect(missing.json().message).toMatch(/transforms\[0\]\.version: .*version 9|no deployment/);
      expect((await swap({ environment: 'staging' }, p, 'nothing')).statusCode).toBe(409);
      expect((await swap({ environment: 'staging' }, `${p}-x`)).statusCode).toBe(404);

      await until(
        'every record scored',
        async () =>
          (unit(await status(p), 'transforms', 'score')[0]?.counts.consumed ?? 0) >= rows.length ? true : undefined,
        120_000,
        500,
      );
      const s = await status(p);
      expect(s.models.score).toEqual({ model: f.model, environment: 'staging' });
      expect(unit(s, 'transforms', 'score')[0]).toMatchObject({ modelVersion: '2', restarts: 0 });
      const out = await readTopic(`${p}.scores`);
      expect(out).toHaveLength(rows.length);
      const ids = out.map((r) => (JSON.parse(r.value) as { id: number }).id).sort((a, b) => a - b);
      expect(ids).toEqual(rows.map((r) => r.id));
      // Each record carries the version that scored it, and that version's own prediction.
      const scored = {
        '1': await new KServeClient(f.servers.v1, f.model).infer(rows, features),
        '2': await new KServeClient(f.servers.v2, f.model).infer(rows, features),
      };
      const versions = new Set<string>();
      for (const r of out) {
        const v = r.headers?.['mloop-model-version'] as '1' | '2';
        versions.add(v);
        const o = JSON.parse(r.value) as { id: number; prediction: unknown; probability: number };
        // Sent after the Update answered: the new model scored it.
        if (o.id >= 450) expect(v, `record ${o.id}`).toBe('2');
        expect(o.probability, `record ${o.id} by v${v}`).toBeCloseTo(scored[v].probabilities?.[o.id] ?? NaN, 12);
      }
      expect([...versions].sort()).toEqual(['1', '2']);
      await stopPipeline(p);
    } finally {
      await f.stack.client.workflow
        .getHandle(pipelineWorkflowId(p))
        .terminate()
        .catch(() => undefined);
    }
  }, 300_000);
});
