/**
 * Stage 5: the scheduled drift check, its settings and what it returns. Shared by the workflow,
 * the activities, the workers and the API, so each name is written once.
 */
import type { Environment, ShadowConfig } from './definitions';

/** One Temporal Schedule per deployed environment of a model runs its drift checks. */
export const driftScheduleId = (model: string, environment: string): string => `drift/${model}/${environment}`;

/** Workflow ID of a check started by hand: the schedule's own IDs get the schedule's suffix. */
export const driftCheckWorkflowId = (model: string, environment: string, key: string): string =>
  `${driftScheduleId(model, environment)}/${key}`;

export const defaultAlertsTopic = 'mloop.alerts';

export interface DriftCheckInput {
  model: string;
  environment: Environment;
  /** Who asked: `schedule` for scheduled checks, else the token's subject. */
  requestedBy?: string;
}

/** Where a check reads the live input: JSON records on a topic, windowed by a field of event time. */
export interface LiveInput {
  topic: string;
  /** Field holding each record's event time: ISO-8601 text or epoch milliseconds. */
  eventTimeField: string;
}

export interface WebhookSettings {
  url: string;
  /** Name of the worker's environment variable holding the HMAC secret (never the secret itself). */
  secretEnv: string;
}

/** Fresh training data for a retraining: a replay of the input's recent window, or a named dataset. */
export type FreshData =
  | {
      kind: 'topic';
      /** A topic of labelled records (features and label), replayed over the last `lookbackMinutes`. */
      topic: string;
      lookbackMinutes: number;
    }
  | { kind: 'dataset'; path: string };

export interface RetrainingPolicy {
  mode: 'off' | 'on';
  data?: FreshData;
  /** After a retraining starts, drift starts no other one for this long. */
  cooldownMinutes: number;
  /** Shadow test for the retrained candidate, like a lifecycle's `shadow`. */
  shadow?: ShadowConfig;
}

export interface MonitoringSettings {
  /** Minutes between scheduled checks. */
  intervalMinutes: number;
  /** Whether the schedules of this model's environments run. */
  paused: boolean;
  input?: LiveInput;
  /** The window a check reads, ending at the check's time. */
  windowMinutes: number;
  /** Fewer records give an "insufficient data" report, not a verdict. */
  minRows: number;
  webhook?: WebhookSettings;
  /** The same finding is alerted once within this long. */
  dedupeMinutes: number;
  retraining: RetrainingPolicy;
}

export const defaultMonitoringSettings: MonitoringSettings = {
  intervalMinutes: 15,
  paused: false,
  windowMinutes: 60,
  minRows: 500,
  dedupeMinutes: 24 * 60,
  retraining: { mode: 'off', cooldownMinutes: 24 * 60 },
};

export type DriftCheckStatus = 'drift' | 'no_drift' | 'insufficient_data' | 'skipped';

export interface DriftCheckResult {
  model: string;
  environment: Environment;
  status: DriftCheckStatus;
  /** Why a check was skipped (nothing deployed, no input configured, no reference profile). */
  reason?: string;
  version?: number;
  reportId?: string;
  /** Records of the window, and those of the range that could not be read (not JSON, no event time). */
  rows?: number;
  unreadable?: number;
  driftedFeatures?: string[];
  /** Alerts published by this check (others were within their dedupe window). */
  alerts?: string[];
  /** The retraining lifecycle this check started or found running in its episode. */
  retraining?: { workflowId: string; started: boolean };
}
