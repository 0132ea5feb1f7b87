/**
 * Batches between being read and being committed, so that scoring one batch overlaps reading,
 * parsing and producing its neighbours. A batch's `work` (scoring) starts as soon as it is
 * admitted and runs beside the others'; its `commit` (producing outputs, applying the metrics
 * state) runs strictly after every earlier batch's commit, and never after a failed one: the
 * committed batches are always a prefix of the admitted ones, which is what keeps outputs in
 * input order and every checkpoint a clean cut.
 */
export interface OrderedBatches {
  /**
   * Waits until fewer than `limit` batches are in flight, then starts `work` and queues its
   * commit; false when closed meanwhile (nothing started). Rejects with the first failure once
   * a batch has failed: nothing more is admitted.
   */
  admit<T>(work: () => Promise<T>, commit: (result: T) => Promise<void> | void): Promise<boolean>;
  /** Admits nothing more (waiting admissions answer false); what is in flight still commits. */
  close(): void;
  /** Resolves when every admitted batch is committed; rejects with the first failure. */
  drain(): Promise<void>;
  /** Batches admitted and not yet committed (nor dropped after a failure). */
  inFlight(): number;
}

/** `onFailure` is called once, with the first failure, so the reader can stop at once. */
export function orderedBatches(limit: number, onFailure: (err: unknown) => void): OrderedBatches {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be an integer ≥ 1 (got ${limit})`);
  let tail: Promise<void> = Promise.resolve();
  let pending = 0;
  let failure: { error: unknown } | null = null;
  let closed = false;
  const waiting: Array<() => void> = [];
  const wake = (): void => {
    for (const w of waiting.splice(0)) w();
  };

  return {
    async admit(work, commit) {
      while (pending >= limit && failure === null && !closed) await new Promise<void>((r) => waiting.push(r));
      if (failure !== null) throw failure.error;
      if (closed) return false;
      pending += 1;
      const result = Promise.resolve().then(work);
      // A failed work is reported by its commit, in order: until then it must not count as unhandled.
      result.catch(() => undefined);
      tail = tail
        .then(async () => commit(await result))
        .finally(() => {
          pending -= 1;
          wake();
        });
      tail.catch((err: unknown) => {
        if (failure !== null) return;
        failure = { error: err };
        wake();
        onFailure(err);
      });
      return true;
    },
    close() {
      closed = true;
      wake();
    },
    drain: () => tail,
    inFlight: () => pending,
  };
}
