import { invalidInput } from '../errors';
import { LATENCY_BUCKETS } from './latency';
import { SHADOW_STATE_VERSION, type ShadowState } from './state';

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
 * it is exact: the state's layout is this code's, and its offsets are the checkpoint's. A
 * checkpoint that fails is not retried into: it throws a non-retryable `InvalidInput`.
 */
export function resumeShadow(details: unknown): ShadowCheckpoint {
  if (!isRecord(details) || !isRecord(details.state)) throw invalidInput('checkpoint', 'not a shadow checkpoint object');
  const { offsets, labelOffsets } = details;
  const state = details.state as unknown as ShadowState;
  if (state.version !== SHADOW_STATE_VERSION) throw invalidInput('checkpoint.state.version', `is ${String(state.version)}, this code reads ${SHADOW_STATE_VERSION}`);
  if (state.task !== 'classification' && state.task !== 'regression') throw invalidInput('checkpoint.state.task', `unknown task ${String(state.task)}`);
  for (const role of ['candidate', 'champion'] as const) {
    if (state[role]?.latency?.buckets?.length !== LATENCY_BUCKETS) throw invalidInput(`checkpoint.state.${role}.latency`, `needs ${LATENCY_BUCKETS} buckets`);
  }
  if (!Array.isArray(state.pendingPredictions) || !Array.isArray(state.pendingLabels)) throw invalidInput('checkpoint.state', 'pending predictions and labels must be arrays');
  if (!isOffsets(offsets) || !isOffsets(state.offsets)) throw invalidInput('checkpoint.offsets', 'must map partitions to decimal offsets');
  if (!isOffsets(labelOffsets) || !isOffsets(state.labelOffsets)) throw invalidInput('checkpoint.labelOffsets', 'must map partitions to decimal offsets');
  // Offsets ahead of the state would skip messages it never counted; behind it, they would be
  // harmless but mean the checkpoint was assembled from two different moments.
  if (!sameOffsets(offsets, state.offsets)) throw invalidInput('checkpoint.offsets', `${JSON.stringify(offsets)} differ from the state's ${JSON.stringify(state.offsets)}`);
  if (!sameOffsets(labelOffsets, state.labelOffsets)) throw invalidInput('checkpoint.labelOffsets', `${JSON.stringify(labelOffsets)} differ from the state's ${JSON.stringify(state.labelOffsets)}`);
  return { offsets, labelOffsets, state };
}
