import { MloopError } from '../errors';
import type { FeatureSpec, KServeClient } from '../serving/kserve-client';

/** One row's outcome: a prediction, or why the model refused that row. */
export type RowScore = { prediction: number | string; probability: number | null } | { rejected: string };

export interface ScoreOptions {
  /** Rows per request. */
  batchSize: number;
  signal: AbortSignal;
  /** Each transient failure (server down, 5xx, timeout) before the request is tried again. */
  onRetry?: (err: unknown, attempt: number) => void;
  /** First and longest wait between attempts (0.2 s, 10 s). */
  backoffMs?: [number, number];
}

/**
 * Scores rows through an Open Inference Protocol endpoint in requests of `batchSize`. While
 * the endpoint is unavailable the rows wait (retries with backoff until `signal` aborts); a
 * request the model rejects (4xx) is split in halves until the rejected rows are found, and
 * only those are refused, each with the model's reason.
 */
export async function scoreRows(
  client: KServeClient,
  features: readonly FeatureSpec[],
  rows: readonly object[],
  o: ScoreOptions,
): Promise<RowScore[]> {
  const out: RowScore[] = [];
  for (let i = 0; i < rows.length; i += o.batchSize)
    out.push(...(await scoreChunk(client, features, rows.slice(i, i + o.batchSize), o)));
  return out;
}

async function scoreChunk(
  client: KServeClient,
  features: readonly FeatureSpec[],
  rows: readonly object[],
  o: ScoreOptions,
): Promise<RowScore[]> {
  const [first, longest] = o.backoffMs ?? [200, 10_000];
  for (let attempt = 1; ; attempt++) {
    if (o.signal.aborted) throw new Error('scoring was cancelled');
    try {
      const res = await client.infer(rows, features, { signal: o.signal });
      return res.predictions.map((prediction, i) => ({ prediction, probability: res.probabilities?.[i] ?? null }));
    } catch (err) {
      if (err instanceof MloopError && err.code === 'InvalidInput') {
        if (rows.length === 1) return [{ rejected: err.message }];
        const half = Math.ceil(rows.length / 2);
        return [
          ...(await scoreChunk(client, features, rows.slice(0, half), o)),
          ...(await scoreChunk(client, features, rows.slice(half), o)),
        ];
      }
      if (o.signal.aborted) throw err;
      o.onRetry?.(err, attempt);
      await wait(Math.min(longest, first * 2 ** (attempt - 1)), o.signal);
    }
  }
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
