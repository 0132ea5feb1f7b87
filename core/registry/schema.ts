import type { ColumnType, Generated } from 'kysely';

export interface ModelsTable {
  name: string;
  created_at: string;
}

export interface ModelVersionsTable {
  id: Generated<number>;
  model: string;
  version: number;
  artifact_digest: string;
  artifact_size: number;
  repo_url: string;
  repo_path: string;
  commit_sha: string;
  dataset_uri: string;
  dataset_fingerprint: string;
  params_json: string;
  metrics_json: string;
  workflow_id: string;
  run_id: string;
  /** Unique per registration attempt, so a retried activity never registers twice. */
  idempotency_key: string;
  created_by: string;
  created_at: ColumnType<string, string, never>;
}

export interface RegistryDatabase {
  models: ModelsTable;
  model_versions: ModelVersionsTable;
}
