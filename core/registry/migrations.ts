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
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
