import type { Kafka } from 'kafkajs';
import type { ConsumedRecord, StreamRecord } from '../kafka/adapter';
import { readPartitionToEnd, type OutRecord, type PartitionBatch } from '../kafka/transactions';
import { MloopError } from '../errors';
import { KServeClient, type FeatureSpec } from '../serving/kserve-client';
import { compileStep } from './builtins';
import { deadLetter } from './dead-letter';
import { EvaluationError } from './expression';
import { parseRecord, recordChecker, type FieldSchema } from './fields';
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

/** A record's JSON object checked against the input's fields, or its dead letter. */
function prepare(
  records: ConsumedRecord[],
  stage: string,
  fields: FieldSchema,
  dead: StreamRecord[],
): Array<{ record: ConsumedRecord; row: Record<string, unknown> }> {
  const ok: Array<{ record: ConsumedRecord; row: Record<string, unknown> }> = [];
  const check = recordChecker(fields);
  for (const record of records) {
    const parsed = parseRecord(record.value);
    const problem = 'problem' in parsed ? parsed.problem : check(parsed.record);
    if (problem !== null || !('record' in parsed)) dead.push(deadLetter(record, stage, problem ?? 'not a JSON object'));
    else ok.push({ record, row: parsed.record });
  }
  return ok;
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

const stateless = { acquire: async (): Promise<void> => {}, release: (): void => {} };

function recordStage(name: string, step: ReturnType<typeof compileStep>, fields: FieldSchema): Stage {
  return {
    ...stateless,
    async process(batch) {
      const dead: StreamRecord[] = [];
      const outputs: OutRecord[] = [];
      let filtered = 0;
      for (const { record, row } of prepare(batch.records, name, fields, dead)) {
        try {
          const out = step(row);
          if (out === null) filtered++;
          else outputs.push({ key: record.key, value: JSON.stringify(out) });
        } catch (err) {
          if (!(err instanceof EvaluationError)) throw err;
          dead.push(deadLetter(record, name, err.message));
        }
      }
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
      const fresh = batch.records.filter((r) => !store.includes(r.offset));
      if (fresh.length === 0) return { outputs, dead, filtered: 0, processed: 0 };
      const rows = new Map(prepare(fresh, t.name, ctx.inputFields, dead).map((v) => [v.record, v.row]));
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
        processed: fresh.length,
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
  return {
    ...stateless,
    async process(batch, signal) {
      const dead: StreamRecord[] = [];
      const valid = prepare(batch.records, t.name, fields, dead);
      const scores = await scoreRows(
        client,
        endpoint.features,
        valid.map((v) => v.row),
        {
          batchSize: t.batchSize ?? 5000,
          signal,
          onRetry: ctx.onRetry,
        },
      );
      const outputs: OutRecord[] = [];
      valid.forEach(({ record, row }, i) => {
        const s = scores[i];
        if (!s || 'rejected' in s) {
          dead.push(deadLetter(record, t.name, s ? s.rejected : 'the model gave no output'));
          return;
        }
        const value = JSON.stringify({ ...row, [prediction]: s.prediction, [probability]: s.probability });
        outputs.push({ key: record.key, value, ...(headers ? { headers } : {}) });
      });
      return { outputs, dead, filtered: 0, processed: batch.records.length };
    },
  };
}

const featureFields = (features: readonly FeatureSpec[]): FieldSchema =>
  Object.fromEntries(features.map((f) => [f.name, f.type]));
