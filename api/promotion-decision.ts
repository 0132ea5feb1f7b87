import type { WorkflowHandle } from '@temporalio/client';
import { approvePromotionUpdate, rejectPromotionUpdate, type PromotionDecision } from '../workflows/definitions';

/**
 * Approves or rejects the promotion a lifecycle or a deploy waits for. A validator's refusal
 * (already decided, nothing waiting, failed shadow test) becomes a 409 in api/errors.ts.
 */
export function decidePromotion(
  handle: WorkflowHandle,
  approved: boolean,
  by: string,
  comment: string | undefined,
): Promise<PromotionDecision> {
  return handle.executeUpdate(approved ? approvePromotionUpdate : rejectPromotionUpdate, {
    args: [{ by, ...(comment ? { comment } : {}) }],
  });
}
