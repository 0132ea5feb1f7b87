import type { Kafka } from 'kafkajs';
import type { ConsumedRecord, StreamRecord } from '../kafka/adapter';
import { readPartitionToEnd, type OutRecord, type PartitionBatch } from '../kafka/transactions';
import { MloopError } from '../errors';
import { KServeClient, type FeatureSpec } from '../serving/kserve-client';
import { compileStep, type CompiledStep } from './builtins';
import { deadLetter } from './dead-letter';
import { EvaluationError } from './expression';
import { parseRow, recordChecker, type FieldSchema } from './fields';
import { scoreRows } from './model-scoring';
import type { ModelTransform, TransformSpec, WindowTransform } from './spec';
import { eventTime, WindowStore, windowConfig, type WindowSnapshot } from './window';

/**
 * What one transform does to a batch of one input partition: its outputs, its dead letters,
 * and for windows the partition's new state. Stages never touch Kafka offsets; the group
 * runner commits what they return.
 */
export interface StageResult {
  outputs: OutRecord[];
  dead: StreamRecord[];
  /** The window state to write to the changelog with this batch. */
  changelog?: OutRecord;
  filtered: number;
  /** Input records this batch applied (a window skips those its state already holds). */
  processed: number;
}

export interface Stage {
  acquire(partition: number, committed: string | null): Promise<void>;
  release(partition: number): void;
  process(batch: PartitionBatch, signal: AbortSignal): Promise<StageResult>;
  /** Records per `process` call, so that a slice's outputs are sent while the next is processed. */
  sliceRecords?: number;
  openWindows?(): number;
}

/** Where a model transform scores: resolved by the caller (a deployment's stable endpoint, or a version's server). */
export interface ModelEndpoint {
  url: string;
  /** The model's name on the V2 server. */
  modelName: string;
  features: FeatureSpec[];
  /** Sent along in the `mloop-model-version` header of each output when known. */
  version?: string;
}

export interface StageContext {
  kafka: Kafka;
  inputFields: FieldSchema;
  changelogTopic: string;
  endpoint?: ModelEndpoint;
  onRetry?: (err: unknown) => void;
}

/**
 * The records' JSON objects checked against the input's fields, each record's dead letter
 * pushed to `dead` instead; `use` gets the good ones in order, with no object per record.
 */
function forEachRow(
  records: readonly ConsumedRecord[],
  stage: string,
  fields: FieldSchema,
  dead: StreamRecord[],
  use: (record: ConsumedRecord, row: Record<string, unknown>) => void,
): void {
  const check = recordChecker(fields);
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as ConsumedRecord;
    const row = parseRow(record.value);
    const problem = typeof row === 'string' ? row : check(row);
    if (problem !== null) dead.push(deadLetter(record, stage, problem));
    else use(record, row as Record<string, unknown>);
  }
}

export function createStage(t: TransformSpec, ctx: StageContext): Stage {
  switch (t.kind) {
    case 'filter':
    case 'map':
    case 'project':
      return recordStage(t.name, compileStep(t, ctx.inputFields), ctx.inputFields);
    case 'window':
      return windowStage(t, ctx);
    case 'model':
      return modelStage(t, ctx);
  }
}

/** About a send's worth of records (512 KiB of outputs), processed while the slice before is on its way. */
const recordSlice = 2000;

const stateless = { acquire: async (): Promise<void> => {}, release: (): void => {} };

/**
 * The JSON text of `row` (parsed from `text`) with `fields` added after its own: the input's text
 * with the fields appended, so a record is not serialised again. The same value as
 * `JSON.stringify({ ...row, ...fields })`, or null when that would differ beyond formatting (the
 * row has one of the fields already, which would be replaced in place) or the text does not end
 * in its object's brace; the caller serialises then.
 */
export function appendFields(
  text: string,
  row: Record<string, unknown>,
  fields: Record<string, unknown>,
): string | null {
  return fieldAppender(Object.keys(fields))(text, row, Object.values(fields));
}

/**
 * `appendFields` for fixed field names, their JSON read once: it runs for every record, with
 * the values in the names' order.
 */
export function fieldAppender(
  names: readonly string[],
): (text: string, row: Record<string, unknown>, values: readonly unknown[]) => string | null {
  const prefixes = names.map((n) => `${JSON.stringify(n)}:`);
  return (text, row, values) => {
    let end = text.length - 1;
    while (end > 0 && isJsonSpace(text.charCodeAt(end))) end--;
    if (text.charCodeAt(end) !== 0x7d) return null;
    for (let i = 0; i < names.length; i++) if (Object.hasOwn(row, names[i] as string)) return null;
    // An object's text ends in `{` before its closing brace only when it has no field.
    let last = end - 1;
    while (last > 0 && isJsonSpace(text.charCodeAt(last))) last--;
    let first = text.charCodeAt(last) === 0x7b;
    let tail = '';
    for (let i = 0; i < prefixes.length; i++) {
      const json = JSON.stringify(values[i]);
      if (json === undefined) continue; // as JSON.stringify leaves out a field without a JSON value
      tail += first ? prefixes[i] + json : `,${prefixes[i]}${json}`;
      first = false;
    }
    return text.slice(0, end) + tail + '}';
  };
}

const isJsonSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function recordStage(name: string, step: CompiledStep, fields: FieldSchema): Stage {
  const append = step.adds ? fieldAppender(step.adds.names) : undefined;
  const values: unknown[] = [];
  return {
    ...stateless,
    sliceRecords: recordSlice,
    async process(batch) {
      const dead: StreamRecord[] = [];
      const outputs: OutRecord[] = [];
      let filtered = 0;
      forEachRow(batch.records, name, fields, dead, (record, row) => {
        try {
          let value: string | null = null;
          if (step.adds && append) {
            // A step that only adds fields: their values after the input's own text, no new record.
            step.adds.compute(row, values);
            value = append(record.value, row, values);
          }
          if (value === null) {
            const out = step.apply(row);
            if (out === null) {
              filtered++;
              return;
            }
            value = JSON.stringify(out);
          }
          outputs.push({ key: record.key, value });
        } catch (err) {
          if (!(err instanceof EvaluationError)) throw err;
          dead.push(deadLetter(record, name, err.message));
        }
      });
      return { outputs, dead, filtered, processed: batch.records.length };
    },
  };
}

function windowStage(t: WindowTransform, ctx: StageContext): Stage {
  const config = windowConfig(t);
  const stores = new Map<number, WindowStore>();
  return {
    async acquire(partition, committed) {
      const changelog = await readPartitionToEnd(ctx.kafka, ctx.changelogTopic, partition);
      const last = changelog.filter((r) => r.key === String(partition)).at(-1);
      if (!last && committed !== null) {
        throw new MloopError(
          'Conflict',
          `window state of ${t.name} partition ${partition} is missing from ${ctx.changelogTopic}, ` +
            `but offset ${committed} is committed: continuing would emit windows without their earlier records`,
        );
      }
      const snapshot = last ? (JSON.parse(last.value) as WindowSnapshot) : undefined;
      stores.set(partition, new WindowStore(config, snapshot));
    },
    release(partition) {
      stores.delete(partition);
    },
    openWindows() {
      let n = 0;
      for (const s of stores.values()) n += s.openWindows();
      return n;
    },
    async process(batch) {
      const store = stores.get(batch.partition);
      if (!store) throw new Error(`window state of partition ${batch.partition} was not restored`);
      const dead: StreamRecord[] = [];
      const outputs: OutRecord[] = [];
      // Records the state already holds were applied before a restart: skip them, outputs included.
      // They count as consumed all the same: their offsets were not committed before, and are now.
      const fresh = batch.records.filter((r) => !store.includes(r.offset));
      const processed = batch.records.length;
      if (fresh.length === 0) return { outputs, dead, filtered: 0, processed };
      const rows = new Map<ConsumedRecord, Record<string, unknown>>();
      forEachRow(fresh, t.name, ctx.inputFields, dead, (record, row) => rows.set(record, row));
      for (const record of fresh) {
        const row = rows.get(record);
        if (!row) {
          store.nextOffset = (BigInt(record.offset) + 1n).toString();
          continue;
        }
        const time = t.time === undefined ? Number(record.timestamp) : eventTime(row[t.time], t.time);
        if (typeof time === 'string') {
          store.nextOffset = (BigInt(record.offset) + 1n).toString();
          dead.push(deadLetter(record, t.name, time));
          continue;
        }
        const applied = store.apply(row, time, record.offset);
        if ('closed' in applied) {
          for (const w of applied.closed) outputs.push({ key: String(w[t.key]), value: JSON.stringify(w) });
        } else {
          dead.push(deadLetter(record, t.name, 'late' in applied ? applied.late : applied.invalid));
        }
      }
      const value = JSON.stringify(store.snapshot());
      if (Buffer.byteLength(value) > 900 * 1024) {
        throw new MloopError(
          'InvalidInput',
          `window state of ${t.name} partition ${batch.partition} is ${Buffer.byteLength(value)} bytes, ` +
            'more than a Kafka record holds: use fewer keys or shorter windows',
        );
      }
      return {
        outputs,
        dead,
        filtered: 0,
        processed,
        changelog: { key: String(batch.partition), value, partition: batch.partition },
      };
    },
  };
}

function modelStage(t: ModelTransform, ctx: StageContext): Stage {
  const endpoint = ctx.endpoint;
  if (!endpoint)
    throw new MloopError('InvalidInput', `transform ${t.name} scores with model ${t.model}: give its endpoint`, {
      field: 'endpoint',
    });
  const client = new KServeClient(endpoint.url, endpoint.modelName);
  const prediction = t.prediction ?? 'prediction';
  const probability = t.probability ?? 'probability';
  const headers = endpoint.version ? { 'mloop-model-version': endpoint.version } : undefined;
  const fields = { ...ctx.inputFields, ...featureFields(endpoint.features) };
  const append = fieldAppender([prediction, probability]);
  const batchSize = t.batchSize ?? 5000;
  return {
    ...stateless,
    // One model request per slice, which goes out while the slice before is being sent.
    sliceRecords: batchSize,
    async process(batch, signal) {
      const dead: StreamRecord[] = [];
      const records: ConsumedRecord[] = [];
      const rows: Array<Record<string, unknown>> = [];
      forEachRow(batch.records, t.name, fields, dead, (record, row) => {
        records.push(record);
        rows.push(row);
      });
      const scores = await scoreRows(client, endpoint.features, rows, {
        batchSize,
        signal,
        onRetry: ctx.onRetry,
      });
      const outputs: OutRecord[] = [];
      const values: unknown[] = [];
      for (let i = 0; i < rows.length; i++) {
        const record = records[i] as ConsumedRecord;
        const row = rows[i] as Record<string, unknown>;
        const s = scores[i];
        if (!s || 'rejected' in s) {
          dead.push(deadLetter(record, t.name, s ? s.rejected : 'the model gave no output'));
          continue;
        }
        values[0] = s.prediction;
        values[1] = s.probability;
        const value =
          append(record.value, row, values) ??
          JSON.stringify({ ...row, [prediction]: s.prediction, [probability]: s.probability });
        outputs.push(headers ? { key: record.key, value, headers } : { key: record.key, value });
      }
      return { outputs, dead, filtered: 0, processed: batch.records.length };
    },
  };
}

const featureFields = (features: readonly FeatureSpec[]): FieldSchema =>
  Object.fromEntries(features.map((f) => [f.name, f.type]));
