import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/** Migrations live in code, so the registry schema ships with the engine and never drifts from it. */
const migrations: Record<string, Migration> = {
  '0001_models_and_versions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('models')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('model_versions')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('model', 'text', (c) => c.notNull().references('models.name'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('artifact_digest', 'text', (c) => c.notNull())
        .addColumn('artifact_size', 'integer', (c) => c.notNull())
        .addColumn('repo_url', 'text', (c) => c.notNull())
        .addColumn('repo_path', 'text', (c) => c.notNull())
        .addColumn('commit_sha', 'text', (c) => c.notNull())
        .addColumn('dataset_uri', 'text', (c) => c.notNull())
        .addColumn('dataset_fingerprint', 'text', (c) => c.notNull())
        .addColumn('params_json', 'text', (c) => c.notNull())
        .addColumn('metrics_json', 'text', (c) => c.notNull())
        .addColumn('workflow_id', 'text', (c) => c.notNull())
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP`))
        .addUniqueConstraint('model_versions_model_version', ['model', 'version'])
        .execute();
    },
  },
  '0002_aliases_and_runs': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('lifecycle_id', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull().references('models.name'))
        .addColumn('repo_url', 'text', (c) => c.notNull())
        .addColumn('repo_path', 'text', (c) => c.notNull())
        .addColumn('commit_sha', 'text', (c) => c.notNull())
        .addColumn('dataset_uri', 'text', (c) => c.notNull())
        .addColumn('dataset_fingerprint', 'text', (c) => c.notNull())
        .addColumn('params_json', 'text', (c) => c.notNull())
        .addColumn('metrics_json', 'text', (c) => c.notNull())
        .addColumn('evaluation_json', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('version', 'integer')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addCheckConstraint('runs_outcome', sql`outcome in ('passed', 'gate_failed')`)
        .addForeignKeyConstraint('runs_model_version', ['model', 'version'], 'model_versions', ['model', 'version'])
        .execute();
      await db.schema.createIndex('runs_model_created_at').on('runs').columns(['model', 'created_at']).execute();
      await db.schema
        .alterTable('model_versions')
        .addColumn('training_run_id', 'text', (c) => c.references('runs.id'))
        .execute();
      await db.schema
        .createTable('aliases')
        .addColumn('model', 'text', (c) => c.notNull().references('models.name'))
        .addColumn('alias', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('updated_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('aliases_pk', ['model', 'alias'])
        .addForeignKeyConstraint('aliases_model_version', ['model', 'version'], 'model_versions', ['model', 'version'])
        .execute();
      await db.schema
        .createTable('alias_history')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('model', 'text', (c) => c.notNull().references('models.name'))
        .addColumn('alias', 'text', (c) => c.notNull())
        .addColumn('version', 'integer')
        .addColumn('previous_version', 'integer')
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('by', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .execute();
      // `aliasesAt` reads one model's moves up to an instant.
      await db.schema.createIndex('alias_history_model_at').on('alias_history').columns(['model', 'at']).execute();
    },
  },
  '0003_shadow_reports': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('shadow_reports')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('lifecycle_id', 'text', (c) => c.notNull())
        .addColumn('passed', 'integer', (c) => c.notNull())
        .addColumn('reasons_json', 'text', (c) => c.notNull())
        .addColumn('report_json', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addForeignKeyConstraint('shadow_reports_version', ['model', 'version'], 'model_versions', ['model', 'version'])
        .execute();
    },
  },
  '0004_version_positive_class': {
    async up(db: Kysely<unknown>) {
      // JSON, so that the class 1 and the class "1" stay apart; null for versions without one.
      await db.schema.alterTable('model_versions').addColumn('positive_class_json', 'text').execute();
    },
  },
  '0005_reference_profiles': {
    async up(db: Kysely<unknown>) {
      // The drift reference kept at training time (an artifact-store digest); null for versions before it.
      await db.schema.alterTable('model_versions').addColumn('profile_digest', 'text').execute();
    },
  },
  '0006_deployment_events': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('deployment_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('endpoint', 'text')
        .addColumn('by', 'text', (c) => c.notNull())
        .addColumn('decision_json', 'text')
        .addColumn('status_json', 'text', (c) => c.notNull())
        .addColumn('workflow_id', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addForeignKeyConstraint('deployment_events_version', ['model', 'version'], 'model_versions', [
          'model',
          'version',
        ])
        .execute();
      await db.schema
        .createIndex('deployment_events_model_env_at')
        .on('deployment_events')
        .columns(['model', 'environment', 'at'])
        .execute();
    },
  },
  '0008_monitoring': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('drift_reports')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('rows', 'integer', (c) => c.notNull())
        .addColumn('window_start', 'text', (c) => c.notNull())
        .addColumn('window_end', 'text', (c) => c.notNull())
        .addColumn('report_json', 'text', (c) => c.notNull())
        .addColumn('html_digest', 'text', (c) => c.notNull())
        .addColumn('workflow_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addForeignKeyConstraint('drift_reports_version', ['model', 'version'], 'model_versions', ['model', 'version'])
        .execute();
      await db.schema
        .createIndex('drift_reports_model_at')
        .on('drift_reports')
        .columns(['model', 'created_at'])
        .execute();
      await db.schema
        .createTable('monitoring_settings')
        .addColumn('model', 'text', (c) => c.primaryKey().references('models.name'))
        .addColumn('settings_json', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('updated_by', 'text', (c) => c.notNull())
        .execute();
      // The last publication of each finding: dedupe survives restarts and spans checks.
      await db.schema
        .createTable('alert_publications')
        .addColumn('dedupe_key', 'text', (c) => c.primaryKey())
        .addColumn('report_id', 'text', (c) => c.notNull())
        .addColumn('published_at', 'text', (c) => c.notNull())
        .execute();
      // One row per drift episode that started a retraining lifecycle (the cool-down's memory).
      await db.schema
        .createTable('retraining_episodes')
        .addColumn('workflow_id', 'text', (c) => c.primaryKey())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('report_id', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('retraining_episodes_model_env_at')
        .on('retraining_episodes')
        .columns(['model', 'environment', 'started_at'])
        .execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
