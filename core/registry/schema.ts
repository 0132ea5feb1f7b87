import type { ColumnType, Generated } from 'kysely';

export interface ModelsTable {
  name: string;
  created_at: string;
}

/** Lineage columns, the same in `model_versions` and `runs` (see lineage.ts). */
export interface LineageColumns {
  repo_url: string;
  repo_path: string;
  commit_sha: string;
  dataset_uri: string;
  dataset_fingerprint: string;
  params_json: string;
  metrics_json: string;
}

export interface ModelVersionsTable extends LineageColumns {
  id: Generated<number>;
  model: string;
  version: number;
  artifact_digest: string;
  artifact_size: number;
  workflow_id: string;
  /** The Temporal run ID of the workflow that registered the version. */
  run_id: string;
  /** Unique per registration attempt, so a retried activity never registers twice. */
  idempotency_key: string;
  created_by: string;
  created_at: ColumnType<string, string, never>;
  /** The training run (`runs.id`) the version came from; null for versions registered before runs existed. */
  training_run_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON of the positive class its metrics are of (binary classification); null when there is none. */
  positive_class_json: ColumnType<string | null, string | null | undefined, never>;
  /** The reference profile's digest in the artifact store (drift checks); null for versions trained before profiles. */
  profile_digest: ColumnType<string | null, string | null | undefined, string | null>;
}

/** One row per training run (an experiment), whether or not it passed its gates. */
export interface RunsTable extends LineageColumns {
  /** The caller's run key: recording the same key twice returns the first row. */
  id: string;
  lifecycle_id: string;
  model: string;
  evaluation_json: string;
  outcome: 'passed' | 'gate_failed';
  version: ColumnType<number | null, number | null | undefined, number | null>;
  created_by: string;
  created_at: ColumnType<string, string, never>;
}

export interface AliasesTable {
  model: string;
  alias: string;
  version: number;
  updated_at: string;
  updated_by: string;
}

/** Append-only log of alias moves; `version` null means the alias was removed. */
export interface AliasHistoryTable {
  id: Generated<number>;
  model: string;
  alias: string;
  version: number | null;
  previous_version: number | null;
  /** ISO-8601 UTC with milliseconds, so text order is time order. */
  at: string;
  by: string;
  reason: string | null;
}

/** The final report of each shadow test of a version, kept whether it passed or not. */
export interface ShadowReportsTable {
  /** Idempotency key: the shadow test's workflow execution. */
  id: string;
  model: string;
  version: number;
  lifecycle_id: string;
  passed: number;
  reasons_json: string;
  report_json: string;
  created_at: string;
}

/** Append-only: every deploy's end (production, staged, rejected, expired, rolled back, retired). */
export interface DeploymentEventsTable {
  /** Idempotency key: the recording activity's workflow execution. */
  id: string;
  model: string;
  environment: string;
  version: number;
  outcome: string;
  endpoint: string | null;
  /** Who caused it: the approver for a promotion, else who started the deploy. */
  by: string;
  /** The approval decision (who, when, comment), when there was one. */
  decision_json: string | null;
  status_json: string;
  workflow_id: string;
  at: string;
}

/** Every drift check's report (JSON) and the digest of its HTML page in the artifact store. */
export interface DriftReportsTable {
  /** Idempotency key: the check's workflow execution. */
  id: string;
  model: string;
  environment: string;
  version: number;
  status: string;
  rows: number;
  window_start: string;
  window_end: string;
  report_json: string;
  html_digest: string;
  workflow_id: string;
  created_at: string;
}

/** A model's monitoring settings (workflows/monitoring-definitions.ts), defaults merged in on read. */
export interface MonitoringSettingsTable {
  model: string;
  settings_json: string;
  updated_at: string;
  updated_by: string;
}

export interface AlertPublicationsTable {
  dedupe_key: string;
  /** The check that published it last: a retry of that check publishes again. */
  report_id: string;
  published_at: string;
}

export interface RetrainingEpisodesTable {
  /** The retraining lifecycle's workflow ID, deterministic per episode. */
  workflow_id: string;
  model: string;
  environment: string;
  version: number;
  report_id: string;
  started_at: string;
}

export interface RegistryDatabase {
  drift_reports: DriftReportsTable;
  monitoring_settings: MonitoringSettingsTable;
  alert_publications: AlertPublicationsTable;
  retraining_episodes: RetrainingEpisodesTable;
  deployment_events: DeploymentEventsTable;
  shadow_reports: ShadowReportsTable;
  models: ModelsTable;
  model_versions: ModelVersionsTable;
  runs: RunsTable;
  aliases: AliasesTable;
  alias_history: AliasHistoryTable;
}
