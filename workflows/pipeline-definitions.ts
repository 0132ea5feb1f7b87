/**
 * Messages, input and status types of the `pipeline` workflow (stage 3): one long-lived
 * workflow per pipeline that runs every transform replica, source and sink as a supervised
 * activity on the stream queue.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PartitionStatus } from '../core/kafka/transactions';
import type { PipelineSpec } from '../core/pipeline/spec';
import type { ValidatedPipeline } from '../core/pipeline/validate';

export const pipelineWorkflowId = (name: string): string => `pipeline/${name}`;

export type PipelineUnitKind = 'transform' | 'source' | 'sink';

/** One supervised activity: a replica of a transform, or a source or a sink (replica 0). */
export interface PipelineUnit {
  kind: PipelineUnitKind;
  name: string;
  replica: number;
}

export const pipelineUnitKey = (u: PipelineUnit): string => `${u.kind}/${u.name}/${u.replica}`;

/** What a transform scores with: a deployment (model and environment) or a version. */
export type ModelChoice = { environment: string; version?: undefined } | { version: number; environment?: undefined };

export type UnitState = 'starting' | 'running' | 'restarting' | 'finished' | 'stopped';

/** What a running unit reports, from the checkpoint it heartbeats. */
export interface UnitReport {
  unit: PipelineUnit;
  /** The activity's attempt: a retry after a crash counts as a restart. */
  attempt: number;
  /** Which start of the unit by its workflow this is (each restart or model swap starts it anew). */
  run: number;
  /** Counters by name (consumed, produced, deadLettered, filtered, written, sent, line…). */
  counts: Record<string, number>;
  /** The committed offset, high watermark and lag of each input partition this unit owns now. */
  partitions: PartitionStatus[];
  messagesPerSecond: number;
  errors: number;
  lastError: string | null;
  /** The connector's own checkpoint, from which a restarted source goes on. */
  resume?: unknown;
  /** The model version that answered, for model transforms. */
  modelVersion?: string;
}

export interface UnitStatus extends Omit<UnitReport, 'attempt' | 'unit' | 'run'> {
  kind: PipelineUnitKind;
  name: string;
  replica: number;
  state: UnitState;
  /** Times this unit was started again after a failure (activity retries included). */
  restarts: number;
  /** When its last report arrived. */
  updatedAt: string | null;
}

export interface PipelineStatus {
  name: string;
  state: 'starting' | 'running' | 'stopping' | 'stopped';
  guarantee: 'at-least-once' | 'exactly-once';
  requestedBy: string;
  startedAt: string;
  /** Runs of the workflow so far (it continues as new before its history grows large). */
  runs: number;
  topics: string[];
  deadLetterTopic: string;
  /** The model each model transform scores with now. */
  models: Record<string, { model: string } & ModelChoice>;
  transforms: UnitStatus[];
  sources: UnitStatus[];
  sinks: UnitStatus[];
  /** Why the pipeline could not start (its topics or models), while it keeps trying. */
  error?: string;
}

/** What one run hands to the next when it continues as new. */
export interface PipelineCarry {
  startedAt: string;
  runs: number;
  units: Record<string, UnitStatus>;
}

export interface PipelineInput {
  spec: PipelineSpec;
  requestedBy: string;
  /** Task queue of the stream activities; defaults to `mloop-stream`. */
  streamTaskQueue?: string;
  /** How often each unit reports to the workflow (5 s). */
  reportIntervalMs?: number;
  /** Continue as new after this many history events even before the server suggests it. */
  maxHistoryEvents?: number;
  carried?: PipelineCarry;
}

export interface SetTransformModelInput {
  transform: string;
  model: ModelChoice;
  by: string;
}

export interface SetTransformModelResult {
  transform: string;
  previous: ModelChoice;
  current: ModelChoice;
  /** Replicas restarted on the new model; each had reported from it when the Update answered. */
  restarted: number;
}

export const pipelineStatusQuery = defineQuery<PipelineStatus>('pipelineStatus');
/**
 * The validated pipeline its units run now (model swaps applied), e.g. for the http sources'
 * ingest; null while its topics and models are being prepared.
 */
export const pipelineDefinitionQuery = defineQuery<ValidatedPipeline | null>('pipelineDefinition');
/** A running unit reports its checkpoint figures. */
export const pipelineUnitReportSignal = defineSignal<[UnitReport]>('pipelineUnitReport');
/** Changes the model behind a model transform; its replicas restart on it, Kafka keeps their place. */
export const setTransformModelUpdate = defineUpdate<SetTransformModelResult, [SetTransformModelInput]>(
  'setTransformModel',
);
/** Stops every unit, waits until each one stopped, and ends the workflow. */
export const stopPipelineUpdate = defineUpdate<PipelineStatus, [{ by: string }]>('stopPipeline');
