import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../../../core/kafka/adapter';
import { ingestRecords } from '../../../core/connectors/http-ingest';
import { MloopError } from '../../../core/errors';
import { testNames } from '../../helpers/stack';
import { brokers, deleteTopics, readTopic } from '../pipeline/streams';
import { connectorPipeline } from './pipelines';

const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deleteTopics(p).catch(() => undefined);
});

describe('HTTP ingest source', () => {
  it(
    'produces valid records keyed by the key field, and refuses a body with any bad record, ' +
      'naming each, producing none',
    async () => {
      const { prefix } = testNames('http-ingest');
      prefixes.push(prefix);
      const fields = { machine_id: 'string', t: 'number' } as const;
      const pipeline = await connectorPipeline(prefix, fields, {
        source: { name: 'api', kind: 'http', key: 'machine_id', fields, maxRecords: 5 },
      });
      const kafka = createKafkaAdapter({ brokers });
      try {
        expect(
          await ingestRecords(kafka, pipeline, 'api', [
            { machine_id: 'M-1', t: 1 },
            { machine_id: 'M-2', t: null },
          ]),
        ).toEqual({ topic: `${prefix}.data`, accepted: 2 });
        expect(
          await ingestRecords(kafka, pipeline, 'api', { records: [{ machine_id: 'M-3', t: 3, extra: true }] }),
        ).toMatchObject({ accepted: 1 });
        const bad = ingestRecords(kafka, pipeline, 'api', [
          { machine_id: 'M-4', t: 4 },
          { machine_id: 'M-5', t: 'x' },
          7,
          { t: 1 },
        ]);
        await expect(bad).rejects.toThrow(
          '3 invalid record(s), none was accepted: records[1]: field "t" is "x", not a number; ' +
            'records[2]: must be a JSON object; records[3]: missing field "machine_id"',
        );
        await expect(ingestRecords(kafka, pipeline, 'api', Array(6).fill({ machine_id: 'M', t: 1 }))).rejects.toThrow(
          'records: 6 records, at most 5 per request',
        );
        await expect(ingestRecords(kafka, pipeline, 'api', { rows: [] })).rejects.toThrow(
          'body: must be a JSON array of records',
        );
        const missing = await ingestRecords(kafka, pipeline, 'nope', []).catch((e: unknown) => e);
        expect(missing).toBeInstanceOf(MloopError);
        expect((missing as MloopError).code).toBe('NotFound');
      } finally {
        await kafka.close();
      }
      const out = await readTopic(`${prefix}.data`);
      expect(out.map((r) => r.key).sort()).toEqual(['M-1', 'M-2', 'M-3']);
    },
  );
});
