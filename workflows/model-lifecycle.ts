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
  type TemporalFailure,
} from '@temporalio/workflow';
import {
  abortSignal,
  searchAttributes,
  shadowProgressUpdate,
  stopShadowSignal,
  trainProgressSignal,
  statusQuery,
  taskQueues,
  type LifecycleInput,
  type LifecycleResult,
  type LifecycleStage,
  type LifecycleStatus,
} from './definitions';
import type { ShadowReport } from '../core/shadow/report';
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
    enter('done');
    return { ...status, train, ...(shadow ? { shadowTest: shadow } : {}) };
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
