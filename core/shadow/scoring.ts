import type { StreamRecord } from '../kafka/adapter';
import { fitRecord } from '../kafka/record-size';
import type { FeatureSpec, KServeClient } from '../serving/kserve-client';
import { inferEachRow } from '../serving/row-isolation';
import { sourceOf } from './dead-letter';
import type { ValidInput } from './input-batch';
import type { ModelOutcome, ScoredMessage } from './metrics';

/** A model being shadow-tested or compared with, behind its inference server. */
export interface ServedModel {
  client: KServeClient;
  features: FeatureSpec[];
  version: number;
}

const maxRowsPerRequest = 10_000;

/**
 * Scores the valid inputs by the candidate and the champion side by side. A row that fails
 * inference fails alone: the rest of its batch is scored (see row-isolation.ts). `signal`
 * cancels the requests (their rows then count as unavailable).
 */
export async function scoreBatch(
  valid: readonly ValidInput[],
  candidate: ServedModel,
  champion: ServedModel | null,
  signal?: AbortSignal,
): Promise<{ scored: ScoredMessage[]; candidate: ModelOutcome[] }> {
  const rows = valid.map((v) => v.row);
  const [cand, champ] = await Promise.all([
    score(candidate, rows, signal),
    champion ? score(champion, rows, signal) : Promise.resolve(null),
  ]);
  const scored: ScoredMessage[] = valid.map((v, i) => ({
    key: v.record.key,
    partition: v.record.partition,
    offset: v.record.offset,
    timestampMs: Number(v.record.timestamp),
    candidate: cand[i] ?? { failure: 'missing_output' },
    ...(champ ? { champion: champ[i] ?? { failure: 'missing_output' } } : {}),
  }));
  return { scored, candidate: cand };
}

/** The candidate's predictions for the shadow topic, keyed like their input and fitted to `maxBytes`. */
export function shadowOutputs(
  model: string,
  version: number,
  valid: readonly ValidInput[],
  outcomes: readonly ModelOutcome[],
  maxBytes: number,
): StreamRecord[] {
  return valid.flatMap((v, i) => {
    const outcome = outcomes[i];
    if (!outcome || !('prediction' in outcome)) return [];
    const headers = {
      'mloop-model': model,
      'mloop-version': String(version),
      'mloop-source': sourceOf(v.record),
    };
    const value = JSON.stringify({ prediction: outcome.prediction });
    return [fitRecord({ key: v.record.key, value, headers }, maxBytes)];
  });
}

async function score(
  model: ServedModel,
  rows: Record<string, unknown>[],
  signal: AbortSignal | undefined,
): Promise<ModelOutcome[]> {
  const out: ModelOutcome[] = [];
  for (let i = 0; i < rows.length; i += maxRowsPerRequest) {
    // Each message is charged the time until its prediction arrived; failures count per row.
    for (const r of await inferEachRow(model.client, rows.slice(i, i + maxRowsPerRequest), model.features, {
      signal,
    })) {
      out.push(r.ok ? { prediction: r.prediction, latencyMs: r.latencyMs } : { failure: r.failure });
    }
  }
  return out;
}
