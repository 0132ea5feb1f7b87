import type { KafkaPort, StreamRecord } from '../kafka/adapter';
import { MloopError } from '../errors';
import type { ValidatedPipeline } from '../pipeline/validate';
import { isProblem, toStreamRecord } from './source-records';

/**
 * The HTTP ingest source (`POST /v1/pipelines/:name/ingest/:source`): a body of records
 * (a JSON array, or `{"records": [...]}`) is checked against the source's fields and
 * produced to its topic. All or nothing: one bad record refuses the whole request with
 * every problem named by its place (`records[3].temperature_c …`), and nothing is produced;
 * a Kafka failure rejects with a plain (retryable) error, so the client sends again.
 */
export interface IngestResult {
  topic: string;
  accepted: number;
}

const defaultMaxRecords = 10_000;

export async function ingestRecords(
  kafka: KafkaPort,
  pipeline: ValidatedPipeline,
  sourceName: string,
  body: unknown,
): Promise<IngestResult> {
  const source = pipeline.spec.sources?.find((s) => s.name === sourceName);
  if (!source)
    throw new MloopError('NotFound', `pipeline ${pipeline.spec.name} has no source ${sourceName}`, { field: 'source' });
  if (source.kind !== 'http') {
    throw new MloopError('InvalidInput', `source ${sourceName} is a ${source.kind} source, not an http one`, {
      field: 'source',
    });
  }
  const rows = Array.isArray(body) ? body : isObject(body) && Array.isArray(body.records) ? body.records : null;
  if (rows === null)
    throw new MloopError('InvalidInput', 'body: must be a JSON array of records, or {"records": [...]}', {
      field: 'records',
    });
  const max = source.maxRecords ?? defaultMaxRecords;
  if (rows.length === 0) return { topic: source.topic, accepted: 0 };
  if (rows.length > max)
    throw new MloopError('InvalidInput', `records: ${rows.length} records, at most ${max} per request`, {
      field: 'records',
    });
  const records: StreamRecord[] = [];
  const problems: Array<{ path: string; message: string }> = [];
  rows.forEach((row, i) => {
    if (!isObject(row)) {
      problems.push({ path: `records[${i}]`, message: 'must be a JSON object' });
      return;
    }
    const r = toStreamRecord(row, source.fields, source.key);
    if (isProblem(r)) problems.push({ path: `records[${i}]`, message: r.problem });
    else records.push(r);
  });
  if (problems.length > 0) {
    const shown = problems
      .slice(0, 20)
      .map((p) => `${p.path}: ${p.message}`)
      .join('; ');
    throw new MloopError('InvalidInput', `${problems.length} invalid record(s), none was accepted: ${shown}`, {
      field: problems[0]?.path,
      problems,
    });
  }
  await kafka.produce(source.topic, records);
  return { topic: source.topic, accepted: records.length };
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
