import { MloopError } from '../errors';

/**
 * Rows to Open Inference Protocol (KServe V2) input tensors and output tensors back to
 * predictions: one tensor per feature ("columnar"), one value per row.
 */
export type FeatureType = 'number' | 'integer' | 'string';

export interface FeatureSpec {
  name: string;
  type: FeatureType;
}

export interface InputTensor {
  name: string;
  shape: [number];
  datatype: 'FP64' | 'INT64' | 'BYTES';
  data: (number | string | null)[];
}

export const datatypes = { number: 'FP64', integer: 'INT64', string: 'BYTES' } as const;

const show = (v: unknown): string =>
  typeof v === 'string'
    ? JSON.stringify(v)
    : typeof v === 'object' && v !== null
      ? JSON.stringify(v).slice(0, 40)
      : String(v);

/** A cell as JSON: missing or NaN becomes null; values of the wrong type are the caller's error. */
export function cellOf(value: unknown, type: FeatureType, where: () => string): number | string | null {
  if (value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value))) return null;
  if (type === 'string') {
    // As in training datasets, a stored non-text value is its text: 7 → "7".
    if (typeof value === 'string') return value;
    if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') return String(value);
    throw new MloopError('InvalidInput', `${where()}: ${show(value)} is not a string`, { field: where() });
  }
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new MloopError('InvalidInput', `${where()}: ${show(value)} is not a finite number`, { field: where() });
  if (type === 'integer' && !Number.isInteger(value))
    throw new MloopError('InvalidInput', `${where()}: ${value} is not an integer`, { field: where() });
  return value;
}

/** Each feature's cells of `rows`, checked (see `cellOf`): one column per feature, in order. */
export function columnsOf(rows: readonly object[], features: readonly FeatureSpec[]): (number | string | null)[][] {
  return features.map((f) =>
    rows.map((row, i) =>
      cellOf(
        Object.hasOwn(row, f.name) ? (row as Record<string, unknown>)[f.name] : undefined,
        f.type,
        () => `rows[${i}].${f.name}`,
      ),
    ),
  );
}

export function encodeInputs(
  rows: readonly object[],
  features: readonly FeatureSpec[],
  columns = columnsOf(rows, features),
): InputTensor[] {
  return features.map((f, i) => ({
    name: f.name,
    shape: [rows.length],
    datatype: datatypes[f.type],
    data: columns[i] as (number | string | null)[],
  }));
}

export interface DecodedOutputs {
  predictions: Array<number | string>;
  /** The positive class's probability per row (binary classification). */
  probabilities?: number[];
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Reads `predictions` and, when present, `probabilities` from an infer response. Probabilities
 * come as one per row, or as `[N, 2]` per-class columns of which the positive (last) is kept.
 * A response that does not fit is the server's fault: a plain (retryable) Error.
 */
export function decodeOutputs(body: unknown, rows: number, what: string): DecodedOutputs {
  const bad = (why: string): Error => new Error(`${what}: unexpected response, ${why}`);
  const outputs = isRecord(body) ? body.outputs : undefined;
  if (!Array.isArray(outputs)) throw bad('no "outputs" list');
  const byName = new Map(outputs.filter(isRecord).map((o) => [o.name, o]));
  const predictionsTensor = byName.get('predictions');
  if (!predictionsTensor) throw bad('no "predictions" output');
  const predictions = (Array.isArray(predictionsTensor.data) ? predictionsTensor.data : []).flat(Infinity) as unknown[];
  if (predictions.length !== rows) throw bad(`${predictions.length} predictions for ${rows} rows`);
  const invalid = predictions.findIndex(
    (p) => !(typeof p === 'string' || (typeof p === 'number' && Number.isFinite(p))),
  );
  if (invalid >= 0) throw bad(`prediction ${invalid} is ${JSON.stringify(predictions[invalid])}`);
  const out: DecodedOutputs = { predictions: predictions as Array<number | string> };

  const probabilitiesTensor = byName.get('probabilities');
  if (!probabilitiesTensor) return out;
  const flat = (Array.isArray(probabilitiesTensor.data) ? probabilitiesTensor.data : []).flat(Infinity) as unknown[];
  if (flat.some((p) => typeof p !== 'number' || !Number.isFinite(p))) throw bad('probabilities must be finite numbers');
  const values = flat as number[];
  if (values.length === rows) out.probabilities = values;
  else if (values.length === 2 * rows) out.probabilities = values.filter((_, i) => i % 2 === 1);
  else throw bad(`${values.length} probabilities for ${rows} rows`);
  return out;
}
