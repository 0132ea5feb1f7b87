import {
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  isCancellation,
  upsertSearchAttributes,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import {
  searchAttributes,
  type LifecycleInput,
  type LifecycleResult,
  type LifecycleStage,
  type ShadowTestResult,
  type TrainModelResult,
} from './definitions';
import type { deployModel } from './deploy-model';
import { awaitDeploy } from './lifecycle/deploy-stage';
import { registerControlHandlers, registerPromotionHandlers } from './lifecycle/handlers';
import { initialStatus, nextResume } from './lifecycle/resume';
import { rootCause } from './lifecycle/root-cause';
import { shadowStage, startDeployStage, trainStage } from './lifecycle/stages';

/**
 * One model run through mloop's stages. Each stage is a child workflow so it can be inspected,
 * retried and replayed on its own; this workflow only sequences them and reports status.
 * The parts live in `lifecycle/`: handlers (status, progress, abort, approvals), stages (train,
 * shadow, deploy start), deploy-stage (the wait, with continue-as-new), resume (what a next run gets).
 */
export async function modelLifecycle(input: LifecycleInput): Promise<LifecycleResult> {
  const status = initialStatus(input);
  const stages = new CancellationScope();
  const control = registerControlHandlers(status, stages);
  // Defined before the handlers: a new run after continue-as-new gets buffered signals at once.
  const enter = (stage: LifecycleStage): void => {
    status.stage = stage;
    upsertSearchAttributes([
      { key: searchAttributes.model, value: input.model },
      { key: searchAttributes.stage, value: stage },
    ]);
  };
  const deployId = `${workflowInfo().workflowId}/deploy`;
  registerPromotionHandlers(input, status, deployId, enter);

  if (!input.resume) enter('train');

  try {
    let train: TrainModelResult;
    let shadow: ShadowTestResult | undefined;
    let child: ChildWorkflowHandle<typeof deployModel> | undefined;
    if (input.resume) {
      // A run after continue-as-new: the deploy child started by an earlier run is still going.
      ({ train, shadowTest: shadow } = input.resume);
    } else {
      train = await trainStage(input, status, stages);
      if (input.shadow) {
        enter('shadow');
        shadow = await shadowStage(input, input.shadow, train, status, stages);
      }
      if (!input.deploy) {
        enter('done');
        return { ...status, train, ...(shadow ? { shadowTest: shadow } : {}) };
      }
      enter('staging');
      child = await startDeployStage(input, input.deploy, train, deployId, stages);
    }
    const deployment = await stages.run(() =>
      awaitDeploy(input, status, deployId, child, () => nextResume(input, status, train, shadow)),
    );
    status.deploy = deployment;
    enter(deployment.outcome);
    return { ...status, train, ...(shadow ? { shadowTest: shadow } : {}), deployment };
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    const abortReason = control.abortReason();
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
