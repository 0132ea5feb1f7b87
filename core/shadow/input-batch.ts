import { parseJsonObject } from '../data/bounded-json';
import type { ConsumedRecord } from '../kafka/adapter';
import type { FeatureSpec } from '../serving/kserve-client';
import { applyMalformed, applyScored, type MalformedMessage, type ScoredMessage, type ShadowState } from './metrics';

/** An input record whose value fits the served model's inputs, with its parsed row. */
export interface ValidInput {
  record: ConsumedRecord;
  row: Record<string, unknown>;
}

/** An input record that cannot be scored, with the reason sent along to the dead-letter topic. */
export interface MalformedInput {
  record: ConsumedRecord;
  reason: string;
}

/** Parses each record and checks it against the model's inputs; the order within each list is kept. */
export function splitInput(
  records: readonly ConsumedRecord[],
  features: FeatureSpec[],
): { valid: ValidInput[]; malformed: MalformedInput[] } {
  const valid: ValidInput[] = [];
  const malformed: MalformedInput[] = [];
  for (const record of records) {
    const parsed = parseJsonObject(record.value);
    const reason = parsed.ok ? schemaProblem(parsed.value, features) : parsed.reason;
    if (parsed.ok && reason === null) valid.push({ record, row: parsed.value });
    else malformed.push({ record, reason: reason ?? 'not a JSON object' });
  }
  return { valid, malformed };
}

/**
 * Applies a batch's scored and malformed messages to the metrics state. The state claims offsets
 * as it applies them, so they go in in offset order: one call per run of the same kind.
 */
export function applyInOffsetOrder(
  state: ShadowState,
  scored: readonly ScoredMessage[],
  malformed: readonly MalformedInput[],
): ShadowState {
  type Item = { kind: 'scored'; m: ScoredMessage } | { kind: 'malformed'; m: MalformedMessage };
  const items: Item[] = [
    ...scored.map((m): Item => ({ kind: 'scored', m })),
    ...malformed.map((x): Item => ({
      kind: 'malformed',
      m: {
        partition: x.record.partition,
        offset: x.record.offset,
        reason: x.reason,
        timestampMs: Number(x.record.timestamp),
      },
    })),
  ].sort((x, y) => (BigInt(x.m.offset) < BigInt(y.m.offset) ? -1 : 1));
  let next = state;
  for (let i = 0; i < items.length;) {
    let j = i;
    while (j < items.length && items[j]?.kind === items[i]?.kind) j++;
    const messages = items.slice(i, j).map((c) => c.m);
    next =
      items[i]?.kind === 'scored'
        ? applyScored(next, messages as ScoredMessage[])
        : applyMalformed(next, messages as MalformedMessage[]);
    i = j;
  }
  return next;
}

/** The record's fields against the served model's inputs: the first problem, or null. */
function schemaProblem(row: Record<string, unknown>, features: FeatureSpec[]): string | null {
  for (const f of features) {
    const v = row[f.name];
    if (v === undefined) return `missing field "${f.name}"`;
    if (v === null) continue;
    if (f.type === 'string' ? typeof v !== 'string' : typeof v !== 'number' || !Number.isFinite(v)) {
      return `field "${f.name}" is not a ${f.type}`;
    }
    if (f.type === 'integer' && !Number.isInteger(v)) return `field "${f.name}" is not an integer`;
  }
  return null;
}
