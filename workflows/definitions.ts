/**
 * Every message definition, input/result type and task-queue name of mloop's workflows. Clients,
 * workers and the API import from here, so a name is written once.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { TopicPosition, TopicRangeSpec } from '../core/data/topic-snapshot';
import type { GateResult } from '../core/evaluation/gates';
import type { Release } from '../core/deploy/releases';
import type { ShadowReport } from '../core/shadow/report';
import type { ShadowJudgement, ShadowThresholds } from '../core/shadow/thresholds';

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

/** A historical dataset: a CSV or Parquet file readable by the train workers, or a topic range to replay. */
export type DatasetRef = { path: string; kafka?: undefined } | { kafka: TopicRangeSpec; path?: undefined };

/** A dataset made ready for training: a local file and its fingerprint. */
export interface PreparedDataset {
  path: string;
  /** What the user asked for, as lineage records it: a file path or `kafka://topic?0=from-to&…`. */
  uri: string;
  fingerprint: string;
  records?: number;
}

export interface HoldoutSpec {
  seed: number;
  fraction: number;
}

export interface HoldoutInfo extends HoldoutSpec {
  rows: number;
  /** sha256 of the holdout's row positions: equal digests prove the same rows were scored. */
  digest: string;
}

export interface Evaluation {
  holdout: HoldoutInfo;
  candidate: Record<string, number | null>;
  champion: { version: number; commitSha: string; metrics: Record<string, number | null> } | null;
  gates: GateResult[];
  passed: boolean;
}

export interface LifecycleInput {
  model: string;
  repo: RepoRef;
  dataset: DatasetRef;
  params?: Record<string, unknown>;
  holdout?: Partial<HoldoutSpec>;
  /** Training stops and fails after this long; default 120 minutes. */
  trainTimeoutMinutes?: number;
  /** When given, the trained candidate is shadow-tested on live data before the lifecycle ends. */
  shadow?: ShadowConfig;
  requestedBy: string;
  /**
   * Task queue for the CPU-heavy stage activities; defaults to `mloop-train`. Tests and
   * multi-tenant setups route work to their own workers with it.
   */
  trainTaskQueue?: string;
  /** Task queue for stream processors (shadow tests); defaults to `mloop-stream`. */
  streamTaskQueue?: string;
  /**
   * When given, the lifecycle goes on by itself into the deploy stage once the candidate passed
   * its shadow test (or its gates, without one): staging, the approval, then production.
   */
  deploy?: LifecycleDeployConfig;
  /**
   * The lifecycle continues as new (same ID, fresh history) once its history has this many events
   * while its deploy stage runs, e.g. during a days-long wait for approval; default 10,000, or
   * earlier when the server suggests it. Tests lower it to force the hand-over.
   */
  continueAsNewAfterEvents?: number;
  /** Set by the lifecycle itself when it continues as new: what the earlier runs did. */
  resume?: LifecycleResume;
}

/** What a lifecycle hands to its next run: the status so far and the stages' results. */
export interface LifecycleResume {
  status: LifecycleStatus;
  train: TrainModelResult;
  shadowTest?: ShadowTestResult;
  /** How many times the lifecycle has continued as new, for the status. */
  runs: number;
}

export interface LifecycleDeployConfig extends DeployOptions {
  /** Where the lifecycle ends: `production` (default, after an approval) or `staging`. */
  environment?: Environment;
}

/** Train, shadow, then the deploy's phases while a deploy stage runs; `done` without one. */
export type LifecycleStage = 'train' | 'shadow' | DeployPhase | 'done' | 'aborted';

/** Where a shadow test starts reading its input topic. */
export type ShadowStart = 'latest' | 'earliest' | TopicPosition;

export interface ShadowConfig {
  /** The live topic of JSON records to score (features as fields). */
  inputTopic: string;
  /** Ground truth arriving later: JSON records keyed like the input, the label in `labelField`. */
  labelsTopic?: string;
  /** Field of a label record that holds the label; default `label`. */
  labelField?: string;
  startAt?: ShadowStart;
  /** Stop after this many input messages, or this many seconds, whichever comes first. */
  stopAfter: { messages?: number; seconds?: number };
  thresholds: ShadowThresholds;
  /** Labels joined within this window of their prediction; default 1 hour. */
  labelWindowSeconds?: number;
}

/** A registered version, with what it takes to serve it. */
export interface VersionRef {
  version: number;
  commitSha: string;
  repoUrl: string;
  repoPath: string;
  artifactDigest: string;
}

export interface ShadowTestInput {
  model: string;
  task: 'classification' | 'regression';
  candidate: VersionRef;
  config: ShadowConfig;
  streamTaskQueue: string;
  lifecycleId: string;
}

export interface ShadowTestResult {
  report: ShadowReport;
  judgement: ShadowJudgement;
  shadowTopic: string;
  deadLetterTopic: string;
}

/** What the training activity reports to its lifecycle while it runs. */
export interface TrainProgress {
  phase: string;
  status?: string;
  rows?: number;
  epoch?: number;
  /** Lines the model code printed since the previous report. */
  log?: string[];
}

export interface TrainModelInput {
  model: string;
  repo: RepoRef;
  dataset: DatasetRef;
  params: Record<string, unknown>;
  holdout: HoldoutSpec;
  trainTimeoutMinutes: number;
  requestedBy: string;
  trainTaskQueue: string;
  /** The lifecycle to report progress to. */
  lifecycleId: string;
}

export interface TrainModelResult {
  model: string;
  task: 'classification' | 'regression';
  version: number;
  runId: string;
  commitSha: string;
  artifactDigest: string;
  artifactSize: number;
  dataset: PreparedDataset;
  metrics: Record<string, number | null>;
  rows: { train: number; holdout: number };
  evaluation: Evaluation;
}

export interface LifecycleStatus {
  model: string;
  stage: LifecycleStage;
  commitSha?: string;
  version?: number;
  metrics?: Record<string, number | null>;
  progress?: Omit<TrainProgress, 'log'>;
  /** Live figures of a running shadow test. */
  shadow?: ShadowReport;
  /** The last lines the model code printed. */
  log?: string[];
  /** The deploy stage as its workflow last reported it: phase, endpoints, approval deadline and decision. */
  deploy?: DeployStatus;
  error?: string;
  /** How many times the lifecycle has continued as new so far (absent before the first). */
  continuedAsNew?: number;
}

export type LifecycleResult = LifecycleStatus & {
  train?: TrainModelResult;
  shadowTest?: ShadowTestResult;
  deployment?: DeployModelResult;
};

export const statusQuery = defineQuery<LifecycleStatus>('status');
export const abortSignal = defineSignal<[{ reason: string; by: string }]>('abort');
export const trainProgressSignal = defineSignal<[TrainProgress]>('trainProgress');
/** Ends a running shadow test early; it finishes with the messages scored so far. */
export const stopShadowSignal = defineSignal<[{ by: string }]>('stopShadow');
/** Whether a stop of the shadow test was asked for: the test asks every 2 s (a query adds nothing to history). */
export const shadowStopRequestedQuery = defineQuery<boolean>('shadowStopRequested');
/** A shadow test reports its live figures; the answer tells it whether to stop. */
export const shadowProgressUpdate = defineUpdate<{ stop: boolean }, [ShadowReport]>('shadowProgress');

// Stage 4: deployments and promotion

export type Environment = 'staging' | 'production';
export type RuntimeBackend = 'process' | 'docker';

/** What a deployment's model servers get; every field has a default, each can be overridden. */
export interface DeployResources {
  replicas: number;
  cpus: number;
  memoryMb: number;
  /** How long a new server may take to answer `ready` before the deploy counts it as failed. */
  healthTimeoutSeconds: number;
}

export const defaultDeployResources: DeployResources = {
  replicas: 1,
  cpus: 1,
  memoryMb: 1024,
  healthTimeoutSeconds: 120,
};

/** Promotion waits this long for a human decision before the candidate is retired. */
export const defaultApprovalTimeoutSeconds = 7 * 24 * 3600;

export interface PromotionPolicy {
  /** Seconds to wait for a decision; default 7 days. */
  timeoutSeconds?: number;
  /** Whether the operator who started the deploy may approve it; default false. */
  allowSelfApproval?: boolean;
}

/** What a deploy can be told besides what to deploy; every field has a default. */
export interface DeployOptions {
  backend?: RuntimeBackend;
  resources?: Partial<DeployResources>;
  promotion?: PromotionPolicy;
  /** Task queue of the deploy activities; defaults to `mloop-control`. */
  deployTaskQueue?: string;
}

export interface DeployModelInput extends DeployOptions {
  model: string;
  version: VersionRef;
  /**
   * `staging` deploys and checks the version on the staging endpoint only; `production` does
   * that, then waits for an approval and swaps production to it blue/green.
   */
  environment: Environment;
  requestedBy: string;
  /** A decision taken before the deploy started (a rollback to a version approved before). */
  preApproved?: PromotionDecision;
  /** Why this deploy runs, kept with the alias move (e.g. "rollback from v4"). */
  reason?: string;
  /** The version a rollback replaces; its drift schedule is paused once production is back. */
  rollbackOf?: number;
  /** The lifecycle to report phases to, when the deploy is one of its stages. */
  lifecycleId?: string;
}

export type DeployPhase =
  | 'staging'
  | 'awaiting-approval'
  | 'promoting'
  | 'production'
  | 'staged'
  | 'rejected'
  | 'expired'
  | 'rolled-back'
  | 'failed';

export interface PromotionDecisionInput {
  /** Who decides; the API sets it from the caller's token. */
  by: string;
  comment?: string;
}

export interface PromotionDecision extends PromotionDecisionInput {
  approved: boolean;
  at: string;
}

/** One version's model servers for one environment, and the row they must answer before taking traffic. */
export type ReleaseRef = Release<Environment>;

export interface DeployStatus {
  model: string;
  environment: Environment;
  version: number;
  phase: DeployPhase;
  requestedBy: string;
  /** The stable endpoint per environment, once routed. */
  endpoints: Partial<Record<Environment, string>>;
  approval?: {
    /** ISO time after which the wait ends and the candidate is retired. */
    deadline: string;
    /** Why an approval would be refused (the version failed a shadow test or a gate). */
    blockedBy?: string;
    decision?: PromotionDecision;
  };
  /** The production version this deploy replaced, for rollback. */
  previousVersion?: number | null;
  /** Why a deploy rolled back or failed. */
  error?: string;
}

export interface DeployModelResult extends DeployStatus {
  outcome: 'production' | 'staged' | 'rejected' | 'expired' | 'rolled-back';
}

export const deployWorkflowId = (model: string, environment: Environment, key: string): string =>
  `deploy/${model}/${environment}/${key}`;

export const deployStatusQuery = defineQuery<DeployStatus>('deployStatus');
/** Human gates: approve or reject the promotion a deploy waits for. Validators refuse what cannot be decided. */
export const approvePromotionUpdate = defineUpdate<PromotionDecision, [PromotionDecisionInput]>('approvePromotion');
export const rejectPromotionUpdate = defineUpdate<PromotionDecision, [PromotionDecisionInput]>('rejectPromotion');
/** A lifecycle hands a decision taken through its own Updates to its deploy child. */
export const promotionDecidedSignal = defineSignal<[PromotionDecision]>('promotionDecided');
/** A deploy child reports its phase to its lifecycle, so the lifecycle's validators and status know it. */
export const deployProgressSignal = defineSignal<[DeployStatus]>('deployProgress');

export interface RetireDeploymentInput {
  model: string;
  environment: Environment;
  /** The version the environment served when retirement was asked for, for the audit. */
  version: number;
  by: string;
  reason?: string;
}

export const retireWorkflowId = (model: string, environment: Environment, key: string): string =>
  `retire/${model}/${environment}/${key}`;
export * from './monitoring-definitions';
export * from './pipeline-definitions';
