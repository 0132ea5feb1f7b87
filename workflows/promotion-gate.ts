import type { PromotionDecision, PromotionDecisionInput } from './definitions';

/** What the gate needs to know to refuse a decision; kept by the workflow that owns the wait. */
export interface PromotionGateState {
  /** True only while a promotion waits for its decision. */
  awaiting: boolean;
  version: number;
  requestedBy: string;
  allowSelfApproval: boolean;
  /** Set when the version failed a gate or a shadow test: approving it is refused. */
  blockedBy?: string;
  decision?: PromotionDecision;
}

/**
 * The validator of `approvePromotion` and `rejectPromotion`: throws a message a person can act on
 * when nothing awaits a decision, when it is already decided, when the approver started the
 * deploy themselves (unless allowed), or when the version may not be promoted at all. Rejecting
 * a blocked version is allowed: it retires the candidate.
 */
export function validatePromotionDecision(
  state: PromotionGateState,
  approved: boolean,
  input: PromotionDecisionInput,
): void {
  if (typeof input?.by !== 'string' || input.by.trim() === '') {
    throw new Error('a promotion decision needs "by": who decides');
  }
  if (input.comment !== undefined && typeof input.comment !== 'string') throw new Error('"comment" must be text');
  if (state.decision) {
    const d = state.decision;
    throw new Error(
      `promotion of v${state.version} was already ${d.approved ? 'approved' : 'rejected'} by ${d.by} at ${d.at}`,
    );
  }
  if (!state.awaiting) throw new Error(`no promotion of v${state.version} is waiting for a decision`);
  if (!approved) return;
  if (state.blockedBy) throw new Error(`v${state.version} cannot be promoted: ${state.blockedBy}`);
  if (!state.allowSelfApproval && input.by === state.requestedBy) {
    throw new Error(`${input.by} started this deploy and may not approve it too; another approver must`);
  }
}

export function promotionDecision(approved: boolean, input: PromotionDecisionInput, at: Date): PromotionDecision {
  return { approved, by: input.by, ...(input.comment ? { comment: input.comment } : {}), at: at.toISOString() };
}
