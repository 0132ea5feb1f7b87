import {
  ApplicationFailure,
  executeChild,
  ParentClosePolicy,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type CancellationScope,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { SearchAttributePair } from '@temporalio/common';
import {
  searchAttributes,
  taskQueues,
  type LifecycleDeployConfig,
  type LifecycleInput,
  type LifecycleStatus,
  type ShadowConfig,
  type ShadowTestResult,
  type TrainModelResult,
} from '../definitions';
import { deployModel } from '../deploy-model';
import { shadowTest } from '../shadow-test';
import { trainModel } from '../train-model';

/** Trains the candidate in the `…/train` child and records its version, commit and metrics. */
export async function trainStage(
  input: LifecycleInput,
  status: LifecycleStatus,
  stages: CancellationScope,
): Promise<TrainModelResult> {
  const train = await stages.run(() =>
    executeChild(trainModel, {
      workflowId: `${workflowInfo().workflowId}/train`,
      typedSearchAttributes: childSearchAttributes(input.model, 'train'),
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
  return train;
}

/** Tests the trained candidate on live data in the `…/shadow` child; a failed judgement fails the lifecycle. */
export async function shadowStage(
  input: LifecycleInput,
  config: ShadowConfig,
  train: TrainModelResult,
  status: LifecycleStatus,
  stages: CancellationScope,
): Promise<ShadowTestResult> {
  const result = await stages.run(() =>
    executeChild(shadowTest, {
      workflowId: `${workflowInfo().workflowId}/shadow`,
      typedSearchAttributes: childSearchAttributes(input.model, 'shadow'),
      args: [
        {
          model: input.model,
          task: train.task,
          candidate: {
            version: train.version,
            commitSha: train.commitSha,
            repoUrl: input.repo.url,
            repoPath: input.repo.path,
            artifactDigest: train.artifactDigest,
          },
          config,
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
}

/** Starts the deploy child (staging, approval, production); the lifecycle waits for it in `awaitDeploy`. */
export function startDeployStage(
  input: LifecycleInput,
  config: LifecycleDeployConfig,
  train: TrainModelResult,
  deployId: string,
  stages: CancellationScope,
): Promise<ChildWorkflowHandle<typeof deployModel>> {
  return stages.run(() =>
    startChild(deployModel, {
      workflowId: deployId,
      // The deploy child moves its own stage along (`deploy:<phase>`).
      typedSearchAttributes: [
        ...childSearchAttributes(input.model, 'deploy:staging'),
        { key: searchAttributes.version, value: train.version },
      ],
      // It outlives this run when the lifecycle continues as new; an abort still cancels it.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      args: [
        {
          model: input.model,
          version: {
            version: train.version,
            commitSha: train.commitSha,
            repoUrl: input.repo.url,
            repoPath: input.repo.path,
            artifactDigest: train.artifactDigest,
          },
          ...config,
          environment: config.environment ?? 'production',
          requestedBy: input.requestedBy,
          lifecycleId: workflowInfo().workflowId,
        },
      ],
    }),
  );
}

/**
 * Children carry the lifecycle's model and their stage from their first event, so one visibility
 * filter (`MloopModel="…"`) lists a model's lifecycle together with its train, shadow and deploy runs.
 */
function childSearchAttributes(model: string, stage: string): SearchAttributePair[] {
  return [
    { key: searchAttributes.model, value: model },
    { key: searchAttributes.stage, value: stage },
  ];
}
