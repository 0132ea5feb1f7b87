import { getExternalWorkflowHandle, setHandler, type CancellationScope } from '@temporalio/workflow';
import {
  abortSignal,
  approvePromotionUpdate,
  deployProgressSignal,
  promotionDecidedSignal,
  rejectPromotionUpdate,
  shadowProgressUpdate,
  shadowStopRequestedQuery,
  statusQuery,
  stopShadowSignal,
  trainProgressSignal,
  type DeployStatus,
  type LifecycleInput,
  type LifecycleStage,
  type LifecycleStatus,
  type PromotionDecisionInput,
} from '../definitions';
import type { ShadowReport } from '../../core/shadow/report';
import { promotionDecision, validatePromotionDecision, type PromotionGateState } from '../promotion-gate';

/** What the control handlers learned that the lifecycle's body needs after a stage ends. */
export interface LifecycleControl {
  /** Why the lifecycle was aborted, once an abort signal has arrived. */
  abortReason(): string | undefined;
}

/**
 * The status query, progress reports from the train and shadow children, the stop-shadow request
 * and the abort, which cancels every stage through `stages`.
 */
export function registerControlHandlers(status: LifecycleStatus, stages: CancellationScope): LifecycleControl {
  let abortReason: string | undefined;
  setHandler(statusQuery, () => status);
  setHandler(trainProgressSignal, ({ log, ...progress }) => {
    if (status.stage !== 'train') return;
    status.progress = progress;
    if (log?.length) status.log = [...(status.log ?? []), ...log].slice(-20);
  });
  let stopShadowRequested = false;
  setHandler(stopShadowSignal, () => {
    stopShadowRequested = true;
  });
  setHandler(shadowStopRequestedQuery, () => stopShadowRequested);
  setHandler(
    shadowProgressUpdate,
    (report) => {
      status.shadow = report;
      return { stop: stopShadowRequested };
    },
    {
      validator: (_report: ShadowReport) => {
        if (status.stage !== 'shadow') throw new Error(`no shadow test is running (stage: ${status.stage})`);
      },
    },
  );
  setHandler(abortSignal, ({ reason, by }) => {
    abortReason = `aborted by ${by}: ${reason}`;
    stages.cancel();
  });
  return { abortReason: () => abortReason };
}

/**
 * Approvals sent to the lifecycle (API, CLI, `temporal workflow update`) are validated here against
 * what the deploy child last reported, then handed to the child, which owns the wait.
 */
export function registerPromotionHandlers(
  input: LifecycleInput,
  status: LifecycleStatus,
  deployId: string,
  enter: (stage: LifecycleStage) => void,
): void {
  const gate = (): PromotionGateState => ({
    awaiting: status.deploy?.phase === 'awaiting-approval',
    version: status.deploy?.version ?? status.version ?? 0,
    requestedBy: input.requestedBy,
    allowSelfApproval: input.deploy?.promotion?.allowSelfApproval ?? false,
    ...(status.deploy?.approval?.blockedBy ? { blockedBy: status.deploy.approval.blockedBy } : {}),
    ...(status.deploy?.approval?.decision ? { decision: status.deploy.approval.decision } : {}),
  });
  const decide = (approved: boolean) => async (decisionInput: PromotionDecisionInput) => {
    const decision = promotionDecision(approved, decisionInput, new Date());
    if (status.deploy?.approval) status.deploy.approval.decision = decision;
    await getExternalWorkflowHandle(deployId).signal(promotionDecidedSignal, decision);
    return decision;
  };
  setHandler(approvePromotionUpdate, decide(true), { validator: (i) => validatePromotionDecision(gate(), true, i) });
  setHandler(rejectPromotionUpdate, decide(false), { validator: (i) => validatePromotionDecision(gate(), false, i) });
  setHandler(deployProgressSignal, (deploy) => {
    // A decision recorded here first must not be overwritten by a report sent before it arrived.
    const decision = status.deploy?.approval?.decision;
    status.deploy = deploy;
    if (decision && deploy.approval && !deploy.approval.decision) deploy.approval.decision = decision;
    const stage = lifecycleStageOf(deploy.phase);
    if (stage) enter(stage);
  });
}

/** The lifecycle's stage while its deploy child is in a phase; final phases come with the child's result. */
function lifecycleStageOf(phase: DeployStatus['phase']): LifecycleStage | undefined {
  switch (phase) {
    case 'staging':
    case 'awaiting-approval':
    case 'promoting':
      return phase;
    default:
      return undefined;
  }
}
