import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  isCancellation,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  executeChild,
  getExternalWorkflowHandle,
  type TemporalFailure,
} from '@temporalio/workflow';
import {
  abortSignal,
  approvePromotionUpdate,
  deployProgressSignal,
  promotionDecidedSignal,
  rejectPromotionUpdate,
  searchAttributes,
  shadowProgressUpdate,
  stopShadowSignal,
  trainProgressSignal,
  statusQuery,
  taskQueues,
  type DeployStatus,
  type LifecycleInput,
  type LifecycleResult,
  type LifecycleStage,
  type LifecycleStatus,
  type PromotionDecisionInput,
} from './definitions';
import type { ShadowReport } from '../core/shadow/report';
import { deployModel } from './deploy-model';
import { promotionDecision, validatePromotionDecision, type PromotionGateState } from './promotion-gate';
import { shadowTest } from './shadow-test';
import { trainModel } from './train-model';

/**
 * One model run through mloop's stages. Each stage is a child workflow so it can be inspected,
 * retried and replayed on its own; this workflow only sequences them and reports status.
 */
export async function modelLifecycle(input: LifecycleInput): Promise<LifecycleResult> {
  const status: LifecycleStatus = { model: input.model, stage: 'train' };
  let abortReason: string | undefined;
  const stages = new CancellationScope();

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
  const deployId = `${workflowInfo().workflowId}/deploy`;
  registerPromotionHandlers(input, status, deployId, (stage) => enter(stage));

  const enter = (stage: LifecycleStage): void => {
    status.stage = stage;
    upsertSearchAttributes([
      { key: searchAttributes.model, value: input.model },
      { key: searchAttributes.stage, value: stage },
    ]);
  };
  enter('train');

  try {
    const train = await stages.run(() =>
      executeChild(trainModel, {
        workflowId: `${workflowInfo().workflowId}/train`,
        args: [
          {
            model: input.model,
            repo: input.repo,
            dataset: input.dataset,
            params: input.params ?? {},
            holdout: { seed: input.holdout?.seed ?? 0, fraction: input.holdout?.fraction ?? 0.2 },
            trainTimeoutMinutes: input.trainTimeoutMinutes ?? 120,
            requestedBy: input.requestedBy,
            trainTaskQueue: input.trainTaskQueue ?? taskQueues.train,
            lifecycleId: workflowInfo().workflowId,
          },
        ],
      }),
    );
    Object.assign(status, { commitSha: train.commitSha, version: train.version, metrics: train.metrics });
    delete status.progress;
    upsertMemo({ commitSha: train.commitSha });
    upsertSearchAttributes([{ key: searchAttributes.version, value: train.version }]);

    const shadowConfig = input.shadow;
    const shadow = shadowConfig
      ? await (async () => {
          enter('shadow');
          const result = await stages.run(() =>
            executeChild(shadowTest, {
              workflowId: `${workflowInfo().workflowId}/shadow`,
              args: [
                {
                  model: input.model,
                  task: train.task,
                  candidate: { version: train.version, commitSha: train.commitSha, repoUrl: input.repo.url, repoPath: input.repo.path, artifactDigest: train.artifactDigest },
                  config: shadowConfig,
                  streamTaskQueue: input.streamTaskQueue ?? taskQueues.stream,
                  lifecycleId: workflowInfo().workflowId,
                },
              ],
            }),
          );
          status.shadow = result.report;
          if (!result.judgement.passed) {
            throw ApplicationFailure.create({
              type: 'ShadowTestFailed',
              message: `shadow test failed: ${result.judgement.reasons.join('; ')}`,
              nonRetryable: true,
              details: [result],
            });
          }
          return result;
        })()
      : undefined;
    const deployConfig = input.deploy;
    if (!deployConfig) {
      enter('done');
      return { ...status, train, ...(shadow ? { shadowTest: shadow } : {}) };
    }
    enter('staging');
    const deployment = await stages.run(() =>
      executeChild(deployModel, {
        workflowId: deployId,
        args: [
          {
            model: input.model,
            version: { version: train.version, commitSha: train.commitSha, repoUrl: input.repo.url, repoPath: input.repo.path, artifactDigest: train.artifactDigest },
            ...deployConfig,
            environment: deployConfig.environment ?? 'production',
            requestedBy: input.requestedBy,
            lifecycleId: workflowInfo().workflowId,
          },
        ],
      }),
    );
    status.deploy = deployment;
    enter(deployment.outcome);
    return { ...status, train, ...(shadow ? { shadowTest: shadow } : {}), deployment };
  } catch (err) {
    if (abortReason !== undefined && isCancellation(err)) {
      status.error = abortReason;
      enter('aborted');
      return { ...status };
    }
    const cause = rootCause(err);
    status.error = cause.message;
    enter('failed');
    throw ApplicationFailure.create({
      type: cause.type ?? 'StageFailed',
      message: `${status.model}: stage failed: ${cause.message}`,
      nonRetryable: true,
    });
  }
}

/**
 * Approvals sent to the lifecycle (API, CLI, `temporal workflow update`) are validated here against
 * what the deploy child last reported, then handed to the child, which owns the wait.
 */
function registerPromotionHandlers(
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

/** The innermost failure names what went wrong (e.g. TrainingFailed), not the wrapping layers. */
function rootCause(err: unknown): { message: string; type?: string } {
  let current: unknown = err;
  while (current instanceof ChildWorkflowFailure || ((current as TemporalFailure | undefined)?.cause && !(current instanceof ApplicationFailure))) {
    const next = (current as TemporalFailure).cause;
    if (!next) break;
    current = next;
  }
  if (current instanceof ApplicationFailure) return { message: current.message, type: current.type ?? undefined };
  return { message: current instanceof Error ? current.message : String(current) };
}
