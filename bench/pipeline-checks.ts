/**
 * What the pipeline bench checks in each phase's output topic, record by record: not only that
 * N records arrived but that each is what the phase should have made of one input record. Inputs
 * and outputs are matched as multisets of the input's JSON value (outputs with the phase's own
 * fields taken out), so order across partitions does not matter and nothing can be counted twice.
 */
import type { ConsumedRecord } from '../core/kafka/adapter';

export interface Expected {
  prediction: number | string;
  probability: number | null;
}

/** A reading's identity: its fields as the input wrote them. */
const identity = (row: Record<string, unknown>): string => JSON.stringify(row);

function without(value: string, fields: readonly string[]): { row: Record<string, unknown>; taken: unknown[] } {
  const row = JSON.parse(value) as Record<string, unknown>;
  const taken = fields.map((f) => row[f]);
  for (const f of fields) delete row[f];
  return { row, taken };
}

function counts(inputs: readonly ConsumedRecord[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of inputs) {
    const id = identity(JSON.parse(r.value) as Record<string, unknown>);
    m.set(id, (m.get(id) ?? 0) + 1);
  }
  return m;
}

/**
 * Checks every output against the inputs: each output must match a distinct input (key included),
 * with `check` passing on the fields the phase added. Returns the problems (at most 5 listed).
 */
function matchAll(
  phase: string,
  inputs: readonly ConsumedRecord[],
  outputs: readonly ConsumedRecord[],
  added: readonly string[],
  check: (row: Record<string, unknown>, taken: unknown[], out: ConsumedRecord) => string | null,
): string[] {
  const problems: string[] = [];
  if (outputs.length !== inputs.length)
    problems.push(`${phase}: ${outputs.length} outputs for ${inputs.length} inputs`);
  const left = counts(inputs);
  const keys = new Map(inputs.map((r) => [identity(JSON.parse(r.value) as Record<string, unknown>), r.key]));
  for (const out of outputs) {
    const { row, taken } = without(out.value, added);
    const id = identity(row);
    const n = left.get(id) ?? 0;
    const problem =
      n === 0
        ? 'matches no input record not matched already'
        : keys.get(id) !== out.key
          ? `key ${out.key} is not the input's ${keys.get(id)}`
          : check(row, taken, out);
    if (n > 0) left.set(id, n - 1);
    if (problem !== null && problems.length < 5)
      problems.push(`${phase}: output ${out.partition}/${out.offset}: ${problem}`);
  }
  return problems;
}

export const checkRaw = (inputs: readonly ConsumedRecord[], outputs: readonly ConsumedRecord[]): string[] =>
  matchAll('raw', inputs, outputs, [], () => null);

/** The bench's map: `heat = temperature_c * vibration_mm_s`, `hot = temperature_c > 80`. */
export const checkMap = (inputs: readonly ConsumedRecord[], outputs: readonly ConsumedRecord[]): string[] =>
  matchAll('map', inputs, outputs, ['heat', 'hot'], (row, [heat, hot]) => {
    const t = row.temperature_c as number;
    const v = row.vibration_mm_s as number;
    if (heat !== t * v) return `heat is ${String(heat)}, not ${t * v}`;
    if (hot !== t > 80) return `hot is ${String(hot)}, not ${t > 80}`;
    return null;
  });

/** Each output's prediction and probability must equal what scoring its reading directly gave. */
export function checkModel(
  inputs: readonly ConsumedRecord[],
  outputs: readonly ConsumedRecord[],
  expected: ReadonlyMap<string, Expected>,
  version: string,
): string[] {
  return matchAll('model', inputs, outputs, ['prediction', 'probability'], (row, [prediction, probability], out) => {
    const want = expected.get(identity(row));
    if (!want) return 'no direct score for its reading';
    if (prediction !== want.prediction) return `prediction ${String(prediction)}, directly ${String(want.prediction)}`;
    if (probability !== want.probability)
      return `probability ${String(probability)}, directly ${String(want.probability)}`;
    if (out.headers?.['mloop-model-version'] !== version)
      return `model version header ${out.headers?.['mloop-model-version']}`;
    return null;
  });
}

export const readingIdentity = identity;
