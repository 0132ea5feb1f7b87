import { ApplicationFailure, proxyActivities, upsertMemo } from '@temporalio/workflow';
import type { createRegistryActivities } from '../activities/registry';
import type { createTrainActivities } from '../activities/train';
import type { Evaluation, TrainModelInput, TrainModelResult } from './definitions';

type TrainActivities = ReturnType<typeof createTrainActivities>;
type RegistryActivities = ReturnType<typeof createRegistryActivities>;

// Short calls: git ref resolution and registry reads and writes.
const { resolveCommit } = proxyActivities<TrainActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 5 },
});
const { findChampion, recordRun, registerModelVersion } = proxyActivities<RegistryActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 10 },
});

/**
 * Stage 1: pin the commit, prepare the dataset, train, score the champion on the same holdout,
 * apply the manifest's gates, and register an immutable version with its lineage.
 */
export async function trainModel(input: TrainModelInput): Promise<TrainModelResult> {
  const commitSha = await resolveCommit({ repoUrl: input.repo.url, ref: input.repo.ref });
  upsertMemo({ commitSha });

  // Heavy calls run on the train queue. Heartbeat timeouts notice a dead worker in a minute.
  const heavy = (startToCloseMinutes: number) =>
    proxyActivities<TrainActivities>({
      taskQueue: input.trainTaskQueue,
      startToCloseTimeout: `${startToCloseMinutes} minutes`,
      heartbeatTimeout: '1 minute',
      retry: {
        maximumAttempts: 3,
        nonRetryableErrorTypes: [
          'InvalidModelRepo',
          'InvalidManifest',
          'DatasetInvalid',
          'TrainingFailed',
          'EvaluationFailed',
        ],
      },
    });
  const { prepareDataset, evaluateVersion } = heavy(60);
  const { runTraining } = heavy(input.trainTimeoutMinutes + 5);

  const dataset = await prepareDataset(input.dataset);
  const trained = await runTraining({
    lifecycleId: input.lifecycleId,
    repoUrl: input.repo.url,
    repoPath: input.repo.path,
    commitSha,
    dataset,
    params: input.params,
    holdout: input.holdout,
    timeoutMinutes: input.trainTimeoutMinutes,
  });

  const champion = await findChampion({ model: input.model });
  const championEval = champion
    ? await evaluateVersion({
        repoUrl: champion.repoUrl,
        repoPath: champion.repoPath,
        commitSha: champion.commitSha,
        artifactDigest: champion.artifactDigest,
        datasetPath: dataset.path,
        holdout: input.holdout,
      })
    : null;
  if (championEval && championEval.holdout.digest !== trained.holdout.digest) {
    throw ApplicationFailure.nonRetryable(
      `champion v${champion?.version} was scored on a different holdout (${championEval.holdout.digest}) ` +
        `than the candidate (${trained.holdout.digest})`,
      'EvaluationFailed',
    );
  }

  const run = await recordRun({
    lifecycleId: input.lifecycleId,
    model: input.model,
    repoUrl: input.repo.url,
    repoPath: input.repo.path,
    commitSha,
    dataset,
    params: trained.params,
    metrics: trained.metrics,
    gates: trained.manifest.gates,
    holdout: trained.holdout,
    champion:
      champion && championEval
        ? { version: champion.version, commitSha: champion.commitSha, metrics: championEval.metrics }
        : null,
    createdBy: input.requestedBy,
  });
  if (!run.evaluation.passed) {
    const reasons = run.evaluation.gates.flatMap((g) => g.reasons);
    throw ApplicationFailure.create({
      type: 'EvaluationFailed',
      message: `gates failed: ${reasons.join('; ')}`,
      nonRetryable: true,
      details: [{ runId: run.runId, evaluation: run.evaluation }],
    });
  }

  const version = await registerModelVersion({
    trainingRunId: run.runId,
    model: input.model,
    artifactDigest: trained.artifactDigest,
    artifactSize: trained.artifactSize,
    repoUrl: input.repo.url,
    repoPath: input.repo.path,
    commitSha,
    datasetUri: dataset.uri,
    datasetFingerprint: dataset.fingerprint,
    params: trained.params,
    metrics: trained.metrics,
    // Shadow tests of the version score the class its training metrics are of.
    positiveClass: trained.positive_class ?? null,
    profileDigest: trained.profileDigest,
    createdBy: input.requestedBy,
  });

  return {
    model: input.model,
    task: trained.manifest.task,
    version: version.version,
    runId: run.runId,
    commitSha,
    artifactDigest: trained.artifactDigest,
    artifactSize: trained.artifactSize,
    dataset,
    metrics: trained.metrics,
    rows: trained.rows,
    evaluation: run.evaluation satisfies Evaluation,
  };
}
