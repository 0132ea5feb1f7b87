import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../../../core/kafka/adapter';
import { deadLetterHeaders } from '../../../core/pipeline/dead-letter';
import { runProcessor, type ProcessorCheckpoint } from '../../../core/pipeline/processor';
import { PythonRuntime } from '../../../core/python/runtime';
import { KServeClient, type FeatureSpec } from '../../../core/serving/kserve-client';
import { startModelServer, type RunningModelServer } from '../../../core/serving/model-server';
import { writeHistory } from '../../../examples/predictive-maintenance/data/generate-history';
import { createRng, featureColumns, generateReading } from '../../../examples/predictive-maintenance/data/sensors';
import { config, tempDir, testNames } from '../../helpers/stack';
import { until } from '../../helpers/until';
import { brokers, deleteTopics, readTopic, setUpPipeline } from './streams';

const modelDir = path.resolve(import.meta.dirname, '../../../examples/predictive-maintenance/model');
const features: FeatureSpec[] = featureColumns.map((name) => ({ name, type: 'number' }));
let work: string;
let artifact: string;
const servers: RunningModelServer[] = [];
const prefixes: string[] = [];

const serve = async (): Promise<RunningModelServer> => {
  const s = await startModelServer({
    python: config.pythonExecutable,
    runtimeDir: config.runtimeDir,
    modelDir,
    artifact,
    modelName: 'pm',
    modelVersion: '1',
  });
  servers.push(s);
  return s;
};

/** A stable endpoint in front of whichever server runs, as the deployment's proxy is: 502 while none does. */
function proxy(): { url: Promise<string>; target: string | null; close: () => Promise<void> } {
  const state: { target: string | null } = { target: null };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!state.target) {
        res.writeHead(502).end('no server');
        return;
      }
      // Headers pass both ways, as through HAProxy: binary tensors say where their JSON header ends.
      const passed = ['content-type', 'inference-header-content-length'];
      const pick = (get: (name: string) => string | null | undefined): Record<string, string> =>
        Object.fromEntries(passed.flatMap((h) => (get(h) ? [[h, get(h) as string]] : [])));
      fetch(`${state.target}${req.url}`, {
        method: req.method,
        body: req.method === 'POST' ? Buffer.concat(chunks) : undefined,
        headers: pick((h) => req.headers[h] as string | undefined),
      })
        .then(async (r) =>
          res
            .writeHead(
              r.status,
              pick((h) => r.headers.get(h)),
            )
            .end(Buffer.from(await r.arrayBuffer())),
        )
        .catch(() => res.writeHead(502).end('server gone'));
    });
  });
  const url = new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)),
  );
  return {
    url,
    get target() {
      return state.target;
    },
    set target(t: string | null) {
      state.target = t;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

beforeAll(async () => {
  work = await tempDir('model-transform');
  const dataset = path.join(work, 'history.csv');
  writeHistory(dataset, 1500, 42);
  const runtime = new PythonRuntime({ python: config.pythonExecutable, runtimeDir: config.runtimeDir });
  const trained = await runtime.train(
    { modelDir, dataset, outDir: path.join(work, 'out'), seed: 0, holdoutFraction: 0.2 },
    {},
  );
  artifact = path.join(work, 'out', trained.artifact);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const p of prefixes) await deleteTopics(p).catch(() => undefined);
  await fs.rm(work, { recursive: true, force: true });
});

describe('model transform', () => {
  it(
    'scores in batches exactly as the model does directly, waits while the endpoint is down, ' +
      'and dead-letters rows the model refuses',
    async () => {
      const { prefix } = testNames('model-transform');
      prefixes.push(prefix);
      const pipeline = await setUpPipeline(
        {
          name: prefix,
          guarantee: 'exactly-once',
          topics: [
            {
              name: `${prefix}.in`,
              partitions: 3,
              external: true,
              fields: { machine_id: 'string', ...Object.fromEntries(featureColumns.map((f) => [f, 'number'])) },
            },
            { name: `${prefix}.scores`, partitions: 3 },
          ],
          transforms: [
            {
              name: 'step',
              kind: 'model',
              input: `${prefix}.in`,
              output: `${prefix}.scores`,
              model: 'pm',
              version: 1,
              batchSize: 64,
            },
          ],
        },
        { 'pm#1': features },
      );
      const rng = createRng(5);
      const readings = Array.from({ length: 600 }, (_, i) => ({ ...generateReading(rng), id: i }));
      // Above the manifest's plausibility limit (200 °C): the server refuses it.
      readings[123] = { ...readings[123], temperature_c: 950 } as (typeof readings)[number];
      const kafka = createKafkaAdapter({ brokers });
      await kafka.produce(
        `${prefix}.in`,
        readings.slice(0, 300).map((r) => ({ key: r.machine_id, value: JSON.stringify(r) })),
      );

      const first = await serve();
      const endpoint = proxy();
      endpoint.target = first.url;
      const controller = new AbortController();
      let last: ProcessorCheckpoint | null = null;
      const running = runProcessor({
        brokers,
        pipeline,
        transform: 'step',
        endpoint: { url: await endpoint.url, modelName: 'pm', features, version: '1' },
        signal: controller.signal,
        checkpointIntervalMs: 100,
        sessionTimeoutMs: 6000,
        onCheckpoint: (c) => (last = c),
      });
      const consumed = (): number => (last as ProcessorCheckpoint | null)?.counts.consumed ?? 0;
      try {
        await until('the first readings scored', async () => (consumed() >= 300 ? true : undefined), 90_000);
        // The server goes away: readings wait (retried requests), then a new one takes over.
        endpoint.target = null;
        await first.stop();
        await kafka.produce(
          `${prefix}.in`,
          readings.slice(300).map((r) => ({ key: r.machine_id, value: JSON.stringify(r) })),
        );
        await until(
          'failed attempts while no server runs',
          async () => (((last as ProcessorCheckpoint | null)?.counts.errors ?? 0) > 0 ? true : undefined),
          60_000,
        );
        expect(consumed()).toBe(300);
        endpoint.target = (await serve()).url;
        await until('every reading scored', async () => (consumed() >= 600 ? true : undefined), 90_000);
      } finally {
        controller.abort();
        await running;
        await endpoint.close();
        await kafka.close();
      }

      const out = (await readTopic(`${prefix}.scores`)).map(
        (r) => JSON.parse(r.value) as Record<string, unknown> & { id: number },
      );
      expect(out).toHaveLength(599);
      expect(new Set(out.map((o) => o.id)).size).toBe(599);
      // The same rows scored directly, in one request.
      const direct = await new KServeClient(servers.at(-1)?.url ?? '', 'pm').infer(
        readings.filter((r) => r.id !== 123),
        features,
      );
      const byId = new Map(out.map((o) => [o.id, o]));
      readings
        .filter((r) => r.id !== 123)
        .forEach((r, i) => {
          expect(byId.get(r.id)).toMatchObject({
            ...r,
            prediction: direct.predictions[i],
            probability: direct.probabilities?.[i],
          });
        });
      const dead = await readTopic(pipeline.deadLetterTopic);
      expect(dead).toHaveLength(1);
      expect(JSON.parse(dead[0]?.value ?? '{}')).toMatchObject({ id: 123 });
      expect(dead[0]?.headers?.[deadLetterHeaders.reason]).toMatch(/^model pm rejected the request: .*temperature_c/);
    },
  );
});
