import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../../../core/kafka/adapter';
import { replayFile, type FileReplayCheckpoint } from '../../../core/connectors/file-source';
import { deadLetterHeaders } from '../../../core/pipeline/dead-letter';
import type { FileSource } from '../../../core/pipeline/spec';
import { tempDir, testNames } from '../../helpers/stack';
import { brokers, deleteTopics, readTopic } from '../pipeline/streams';
import { connectorPipeline } from './pipelines';

const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deleteTopics(p).catch(() => undefined);
});
const fields = { machine_id: 'string', t: 'number', ts: 'string', note: 'string' } as const;

async function setUp(
  name: string,
  file: string,
  extra: Record<string, unknown>,
): Promise<{ prefix: string; source: FileSource; dead: string }> {
  const { prefix } = testNames(name);
  prefixes.push(prefix);
  const pipeline = await connectorPipeline(prefix, fields, {
    source: { name: 'replay', kind: 'file', path: file, key: 'machine_id', fields, ...extra },
  });
  return { prefix, source: pipeline.spec.sources?.[0] as FileSource, dead: pipeline.deadLetterTopic };
}

const at = (s: number): string => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();

describe('file replay source', () => {
  it('replays CSV typed by its fields at a speed factor, with bad lines dead-lettered by line number', async () => {
    const dir = await tempDir('csv');
    const file = path.join(dir, 'readings.csv');
    const rows = Array.from({ length: 11 }, (_, i) => `M-${i % 3},${70 + i},${at(i)},"a, ""quoted""\nnote"`);
    await fs.writeFile(
      file,
      [
        'machine_id,t,ts,note',
        ...rows.slice(0, 5),
        'M-9,hot,2026-01-01T00:00:00Z,x',
        'M-9,1',
        ...rows.slice(5),
        '"M-9,1,x',
      ].join('\n'),
    );
    const { prefix, source, dead } = await setUp('csv-replay', file, { time: 'ts', speed: 20 });
    const kafka = createKafkaAdapter({ brokers });
    const started = Date.now();
    const result = await replayFile({ kafka, source, deadLetterTopic: dead, signal: new AbortController().signal });
    const seconds = (Date.now() - started) / 1000;
    await kafka.close();
    // 10 s of event time at 20× is half a second.
    expect(seconds).toBeGreaterThan(0.45);
    expect(seconds).toBeLessThan(5);
    expect(result).toMatchObject({ produced: 11, deadLettered: 3 });
    const out = (await readTopic(`${prefix}.data`)).map(
      (r) => ({ key: r.key, ...(JSON.parse(r.value) as Record<string, unknown>) }) as Record<string, unknown>,
    );
    expect(out.sort((a, b) => (a.t as number) - (b.t as number))[0]).toEqual({
      key: 'M-0',
      machine_id: 'M-0',
      t: 70,
      ts: at(0),
      note: 'a, "quoted"\nnote',
    });
    const reasons = (await readTopic(dead)).map((r) => r.headers?.[deadLetterHeaders.reason]).sort();
    expect(reasons).toEqual([
      'line 12: field "t" is "hot", not a finite number',
      'line 13: 2 cells for 4 columns',
      'line 26: a quoted field is not closed',
    ]);
  });

  it(
    'waits for a file that is not there yet, and resumes a JSONL replay from its checkpoint ' +
      'without repeating a line',
    async () => {
      const dir = await tempDir('jsonl');
      const file = path.join(dir, 'later.jsonl');
      const { prefix, source, dead } = await setUp('jsonl-replay', file, {});
      const kafka = createKafkaAdapter({ brokers });
      const lines = Array.from({ length: 30 }, (_, i) =>
        JSON.stringify({ machine_id: `M-${i}`, t: i, ts: at(i), note: '' }),
      );
      const controller = new AbortController();
      let checkpoint: FileReplayCheckpoint | undefined;
      const first = replayFile({
        kafka,
        source,
        deadLetterTopic: dead,
        signal: controller.signal,
        batchSize: 10,
        waitForFileMs: 100,
        onCheckpoint: (c) => (checkpoint = c),
      });
      await new Promise((r) => setTimeout(r, 500));
      expect(checkpoint).toBeUndefined();
      await fs.writeFile(file, `${lines.slice(0, 20).join('\n')}\n`);
      const firstResult = await first;
      expect(firstResult).toEqual({ line: 20, produced: 20, deadLettered: 0 });
      await fs.appendFile(file, `${lines.slice(20).join('\n')}\nnot json\n`);
      const second = await replayFile({
        kafka,
        source,
        deadLetterTopic: dead,
        signal: new AbortController().signal,
        resume: firstResult,
      });
      await kafka.close();
      expect(second).toEqual({ line: 31, produced: 30, deadLettered: 1 });
      const ts = (await readTopic(`${prefix}.data`))
        .map((r) => (JSON.parse(r.value) as { t: number }).t)
        .sort((a, b) => a - b);
      expect(ts).toEqual(Array.from({ length: 30 }, (_, i) => i));
    },
  );
});
