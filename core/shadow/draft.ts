import type { PendingLabel, PendingPrediction, ShadowState } from './state';

/**
 * A private, mutable copy of a state for applying one batch: pending entries in Maps (insertion
 * ordered, so the first key is the oldest) for O(1) joins. Public functions copy once per call
 * and convert back, so callers only ever see immutable plain JSON states.
 */
export interface ShadowDraft {
  state: Omit<ShadowState, 'pendingPredictions' | 'pendingLabels'>;
  predictions: Map<string, PendingPrediction>;
  labels: Map<string, PendingLabel>;
}

export function toDraft(state: ShadowState): ShadowDraft {
  const { pendingPredictions, pendingLabels, ...rest } = state;
  // Pending entries are replaced, never mutated, so the new state may share them.
  return {
    state: structuredClone(rest),
    predictions: new Map(pendingPredictions.map((p) => [p.key, p])),
    labels: new Map(pendingLabels.map((l) => [l.key, l])),
  };
}

export function fromDraft(draft: ShadowDraft): ShadowState {
  return {
    ...draft.state,
    pendingPredictions: [...draft.predictions.values()],
    pendingLabels: [...draft.labels.values()],
  };
}

/**
 * Claims `offset` of `partition` in `offsets` (next offset per partition): false when it was
 * already applied, which is how a batch replayed after a crash is ignored.
 */
export function claimOffset(offsets: Record<string, string>, partition: number, offset: string): boolean {
  if (!Number.isInteger(partition) || partition < 0)
    throw new RangeError(`partition must be an integer ≥ 0 (got ${partition})`);
  if (!/^\d+$/.test(offset)) throw new RangeError(`offset must be a decimal integer string (got "${offset}")`);
  const next = offsets[String(partition)];
  const at = BigInt(offset);
  if (next !== undefined && at < BigInt(next)) return false;
  offsets[String(partition)] = String(at + 1n);
  return true;
}

/** Adds one to a count in a JSON record; defined as an own property so any name (even `__proto__`) is safe. */
export function bump(counts: Record<string, number>, name: string): void {
  const value = (Object.hasOwn(counts, name) ? counts[name] : undefined) ?? 0;
  Object.defineProperty(counts, name, { value: value + 1, enumerable: true, writable: true, configurable: true });
}
