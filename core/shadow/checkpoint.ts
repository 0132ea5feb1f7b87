import { invalidInput } from '../errors';
import type { ShadowState } from './state';
import { readShadowState } from './state-shape';

/**
 * What a shadow test heartbeats: where to resume reading each partition, and the metrics up to
 * there. The offsets are copies of the state's own, which is what makes resuming exact: the
 * state ignores anything below them, and nothing at or above them is in it.
 */
export interface ShadowCheckpoint {
  /** Partition → next offset to read from the scored topic. */
  offsets: Record<string, string>;
  /** The same for the label topic. */
  labelOffsets: Record<string, string>;
  state: ShadowState;
}

export function shadowCheckpoint(state: ShadowState): ShadowCheckpoint {
  return { offsets: { ...state.offsets }, labelOffsets: { ...state.labelOffsets }, state };
}

/** True when the state already counts this message, so it need not even be scored again. */
export function alreadyApplied(state: ShadowState, partition: number, offset: string): boolean {
  const next = state.offsets[String(partition)];
  return next !== undefined && BigInt(offset) < BigInt(next);
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isOffsets = (x: unknown): x is Record<string, string> =>
  isRecord(x) && Object.entries(x).every(([p, o]) => /^\d+$/.test(p) && typeof o === 'string' && /^\d+$/.test(o));
const sameOffsets = (a: Record<string, string>, b: Record<string, string>): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([p, o]) => b[p] === o);

/**
 * Reads a checkpoint back from heartbeat details (untyped JSON) and asserts that resuming from
 * it is exact: every field of the state has its layout and a valid value (see state-shape.ts),
 * and its offsets are the checkpoint's. A checkpoint that fails is not retried into: it throws
 * a non-retryable `InvalidInput` naming the field.
 */
export function resumeShadow(details: unknown): ShadowCheckpoint {
  if (!isRecord(details) || !isRecord(details.state)) {
    throw invalidInput('checkpoint', 'not a shadow checkpoint object');
  }
  const { offsets, labelOffsets } = details;
  const state = readShadowState(details.state);
  if (!isOffsets(offsets)) throw invalidInput('checkpoint.offsets', 'must map partitions to decimal offsets');
  if (!isOffsets(labelOffsets)) throw invalidInput('checkpoint.labelOffsets', 'must map partitions to decimal offsets');
  // Offsets ahead of the state would skip messages it never counted; behind it, they would be
  // harmless but mean the checkpoint was assembled from two different moments.
  if (!sameOffsets(offsets, state.offsets)) {
    const theirs = JSON.stringify(state.offsets);
    throw invalidInput('checkpoint.offsets', `${JSON.stringify(offsets)} differ from the state's ${theirs}`);
  }
  if (!sameOffsets(labelOffsets, state.labelOffsets)) {
    const theirs = JSON.stringify(state.labelOffsets);
    throw invalidInput('checkpoint.labelOffsets', `${JSON.stringify(labelOffsets)} differ from the state's ${theirs}`);
  }
  return { offsets, labelOffsets, state };
}
