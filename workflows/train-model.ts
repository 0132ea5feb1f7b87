import { proxyActivities, upsertMemo } from '@temporalio/workflow';
import type { createRegistryActivities } from '../activities/registry';
import type { createTrainActivities } from '../activities/train';
import type { TrainModelInput, TrainModelResult } from './definitions';

type TrainActivities = ReturnType<typeof createTrainActivities>;
type RegistryActivities = ReturnType<typeof createRegistryActivities>;

// Short calls: git ref resolution and registry writes.
const { resolveCommit } = proxyActivities<TrainActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 5 },
});
const { registerModelVersion } = proxyActivities<RegistryActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 10 },
});

/** Stage 1: pin the commit, train on the dataset, register an immutable version with lineage. */
export async function trainModel(input: TrainModelInput): Promise<TrainModelResult> {
  const commitSha = await resolveCommit({ repoUrl: input.repo.url, ref: input.repo.ref });
  upsertMemo({ commitSha });

  // Long call on the train queue; the heartbeat timeout notices a dead worker within a minute.
  const { runTraining } = proxyActivities<TrainActivities>({
    taskQueue: input.trainTaskQueue,
    startToCloseTimeout: '4 hours',
    heartbeatTimeout: '1 minute',
    retry: { maximumAttempts: 3 },
  });
  const trained = await runTraining({
    repoUrl: input.repo.url,
    repoPath: input.repo.path,
    commitSha,
    dataset: input.dataset,
    params: input.params,
  });

  const version = await registerModelVersion({
    model: input.model,
    artifactDigest: trained.artifactDigest,
    artifactSize: trained.artifactSize,
    repoUrl: input.repo.url,
    repoPath: input.repo.path,
    commitSha,
    datasetUri: input.dataset.path,
    datasetFingerprint: trained.datasetFingerprint,
    params: trained.params,
    metrics: trained.metrics,
    createdBy: input.requestedBy,
  });

  return {
    model: input.model,
    version: version.version,
    commitSha,
    artifactDigest: trained.artifactDigest,
    artifactSize: trained.artifactSize,
    datasetFingerprint: trained.datasetFingerprint,
    metrics: trained.metrics,
    rows: trained.rows,
  };
}
