/**
 * Every message definition, input/result type and task-queue name of mloop's workflows. Clients,
 * workers and the API import from here, so a name is written once.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const taskQueues = {
  control: 'mloop-control',
  train: 'mloop-train',
  stream: 'mloop-stream',
} as const;
export type TaskQueueRole = keyof typeof taskQueues;

export const searchAttributes = {
  model: defineSearchAttributeKey('MloopModel', SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey('MloopStage', SearchAttributeType.KEYWORD),
  version: defineSearchAttributeKey('MloopVersion', SearchAttributeType.INT),
} as const;

export const lifecycleWorkflowId = (model: string, key: string): string => `lifecycle/${model}/${key}`;

export interface RepoRef {
  url: string;
  ref: string;
  /** Folder of the model inside the repository ('' for its root). */
  path: string;
}

export interface DatasetRef {
  /** Absolute path of a CSV file readable by the train workers. */
  path: string;
}

export interface LifecycleInput {
  model: string;
  repo: RepoRef;
  dataset: DatasetRef;
  params?: Record<string, unknown>;
  requestedBy: string;
  /**
   * Task queue for the CPU-heavy stage activities; defaults to `mloop-train`. Tests and
   * multi-tenant setups route work to their own workers with it.
   */
  trainTaskQueue?: string;
}

export type LifecycleStage = 'train' | 'done' | 'failed' | 'aborted';

export interface TrainProgress {
  phase: string;
  detail?: string;
}

export interface TrainModelInput {
  model: string;
  repo: RepoRef;
  dataset: DatasetRef;
  params: Record<string, unknown>;
  requestedBy: string;
  trainTaskQueue: string;
}

export interface TrainModelResult {
  model: string;
  version: number;
  commitSha: string;
  artifactDigest: string;
  artifactSize: number;
  datasetFingerprint: string;
  metrics: Record<string, number>;
  rows: { train: number; holdout: number };
}

export interface LifecycleStatus {
  model: string;
  stage: LifecycleStage;
  commitSha?: string;
  version?: number;
  metrics?: Record<string, number>;
  error?: string;
}

export type LifecycleResult = LifecycleStatus & { train?: TrainModelResult };

export const statusQuery = defineQuery<LifecycleStatus>('status');
export const abortSignal = defineSignal<[{ reason: string; by: string }]>('abort');
