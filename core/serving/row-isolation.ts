import { MloopError } from '../errors';
import {
  ModelServerError,
  type FeatureSpec,
  type InferOptions,
  type InferResult,
  type RowError,
} from './kserve-client';

/** What became of one row: its prediction, or why it has none. */
export type RowOutcome =
  | { ok: true; prediction: number | string; probability?: number; latencyMs: number }
  | { ok: false; failure: RowFailure; error: string };

/**
 * `rejected`: the request was refused for this row's values (4xx); `model_error`: the server
 * failed on it (500, or an answer that does not fit); `unavailable`: the server did not answer
 * (network, timeout, overload), so nothing is known about the row itself.
 */
export type RowFailure = 'rejected' | 'model_error' | 'unavailable';

export interface IsolationOptions extends InferOptions {
  /** Requests spent on splitting a failed batch, beyond the first (64). */
  maxExtraRequests?: number;
}

interface Infers {
  infer(rows: readonly object[], features: readonly FeatureSpec[], opts?: InferOptions): Promise<InferResult>;
}

const failureOf = (err: unknown): RowFailure => {
  if (err instanceof MloopError) return 'rejected';
  if (err instanceof ModelServerError && (err.status === 500 || err.status === 200)) return 'model_error';
  return 'unavailable';
};

/**
 * Scores rows in one request and, when it fails because of some of them, finds those rows, so
 * that one bad row never costs the others their predictions. A 400 that lists its bad rows
 * (`row_errors`) drops exactly those and sends the rest again; any other refusal or model
 * failure splits the batch in halves until the failing rows stand alone (about 2·log2(n)
 * requests per bad row). Splitting stops after `maxExtraRequests`: the rows still unresolved
 * then share their batch's failure, so a model that fails everything costs a bounded number of
 * requests. When the server does not answer, nothing is split. A row's latency is the time from
 * the first request to the answer that scored it.
 */
export async function inferEachRow(
  client: Infers,
  rows: readonly object[],
  features: readonly FeatureSpec[],
  opts: IsolationOptions = {},
): Promise<RowOutcome[]> {
  const { maxExtraRequests = 64, ...inferOptions } = opts;
  const out: RowOutcome[] = new Array<RowOutcome>(rows.length);
  const started = performance.now();
  let budget = maxExtraRequests;
  const fail = (positions: readonly number[], failure: RowFailure, error: string): void => {
    for (const p of positions) out[p] = { ok: false, failure, error };
  };
  // Groups of row positions still to score, depth first so rows resolve in order of position.
  const pending: number[][] = rows.length > 0 ? [rows.map((_, i) => i)] : [];
  while (pending.length > 0) {
    const group = pending.pop() as number[];
    try {
      const res = await client.infer(
        group.map((p) => rows[p] as object),
        features,
        inferOptions,
      );
      const latencyMs = performance.now() - started;
      group.forEach((p, i) => {
        const probability = res.probabilities?.[i];
        const prediction = res.predictions[i] as number | string;
        out[p] = { ok: true, prediction, latencyMs, ...(probability !== undefined ? { probability } : {}) };
      });
    } catch (err) {
      const failure = failureOf(err);
      const error = err instanceof Error ? err.message : String(err);
      const named = err instanceof MloopError ? ((err.details.rowErrors as RowError[] | undefined) ?? []) : [];
      if (failure !== 'unavailable' && named.length > 0) {
        const bad = new Map(named.map((e) => [group[e.row] as number, e.error]));
        for (const [p, reason] of bad) out[p] = { ok: false, failure: 'rejected', error: reason };
        const rest = group.filter((p) => !bad.has(p));
        if (rest.length > 0 && budget >= 1) {
          budget -= 1;
          pending.push(rest);
        } else {
          fail(rest, failure, error);
        }
      } else if (failure !== 'unavailable' && group.length > 1 && budget >= 2) {
        budget -= 2;
        const half = Math.ceil(group.length / 2);
        pending.push(group.slice(half), group.slice(0, half));
      } else {
        fail(group, failure, error);
      }
    }
  }
  return out;
}
