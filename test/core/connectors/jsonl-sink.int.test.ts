import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../../../core/kafka/adapter';
import { createJsonlSink } from '../../../core/connectors/jsonl-sink';
import { runSink, type SinkStatus } from '../../../core/connectors/sink-runner';
import type { ValidatedPipeline } from '../../../core/pipeline/validate';
import { tempDir, testNames } from '../../helpers/stack';
import { until } from '../../helpers/until';
import { brokers, deleteTopics } from '../pipeline/streams';
import { connectorPipeline } from './pipelines';

const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deleteTopics(p).catch(() => undefined);
});

function start(
  pipeline: ValidatedPipeline,
  file: string,
): { status: () => SinkStatus | null; stop: () => Promise<void> } {
  const controller = new AbortController();
  let status: SinkStatus | null = null;
  const running = runSink({
    brokers,
    pipeline,
    sink: 'file',
    writer: createJsonlSink({ path: file }),
    signal: controller.signal,
    statusIntervalMs: 200,
    sessionTimeoutMs: 6000,
    onStatus: (s) => (status = s),
  });
  return {
    status: () => status,
    stop: async () => {
      controller.abort();
      await running;
    },
  };
}

const lines = async (file: string): Promise<number[]> =>
  (await fs.readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { n: number }).n)
    .sort((a, b) => a - b);

describe('JSONL sink', () => {
  it(
    'writes each record once, cuts back a line written before a crash, and waits while its ' + 'folder is gone',
    async () => {
      const { prefix } = testNames('jsonl-sink');
      prefixes.push(prefix);
      const dir = path.join(await tempDir('jsonl'), 'out');
      await fs.mkdir(dir);
      const file = path.join(dir, 'records.jsonl');
      const pipeline = await connectorPipeline(
        prefix,
        { n: 'integer' },
        { sink: { name: 'file', kind: 'jsonl', path: file } },
      );
      const kafka = createKafkaAdapter({ brokers });
      const produce = (from: number, n: number): Promise<void> =>
        kafka.produce(
          `${prefix}.data`,
          Array.from({ length: n }, (_, k) => ({ key: String(from + k), value: JSON.stringify({ n: from + k }) })),
        );
      try {
        await produce(0, 40);
        let sink = start(pipeline, file);
        await until('40 records written', async () => ((sink.status()?.written ?? 0) >= 40 ? true : undefined));
        await sink.stop();
        expect(await lines(file)).toEqual(Array.from({ length: 40 }, (_, i) => i));

        // As if the process died after appending a batch and before recording it.
        await fs.appendFile(file, '{"n": 39}\n{"n": 38}\n');
        await produce(40, 10);
        sink = start(pipeline, file);
        await until('10 more written', async () => ((sink.status()?.written ?? 0) >= 10 ? true : undefined));
        expect(await lines(file)).toEqual(Array.from({ length: 50 }, (_, i) => i));

        // The folder goes away: records wait, then go to the new file.
        await fs.rm(dir, { recursive: true });
        await produce(50, 5);
        await until('a failed write', async () => ((sink.status()?.errors ?? 0) > 0 ? true : undefined));
        await fs.mkdir(dir);
        await until('the waiting records written', async () =>
          (sink.status()?.written ?? 0) >= 15 ? true : undefined,
        );
        await sink.stop();
        expect(await lines(file)).toEqual([50, 51, 52, 53, 54]);
      } finally {
        await kafka.close();
        await fs.rm(path.dirname(dir), { recursive: true, force: true });
      }
    },
  );
});
