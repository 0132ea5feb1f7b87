import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { Kysely, Migrator, SqliteDialect, type Selectable } from 'kysely';
import { MloopError } from '../errors';
import { migrationProvider } from './migrations';
import type { ModelVersionsTable, RegistryDatabase } from './schema';

export interface NewModelVersion {
  model: string;
  artifactDigest: string;
  artifactSize: number;
  repoUrl: string;
  repoPath: string;
  commitSha: string;
  datasetUri: string;
  datasetFingerprint: string;
  params: Record<string, unknown>;
  metrics: Record<string, number>;
  workflowId: string;
  runId: string;
  idempotencyKey: string;
  createdBy: string;
}

export interface ModelVersion extends Omit<NewModelVersion, 'idempotencyKey'> {
  version: number;
  createdAt: string;
}

/** Models, their immutable versions and lineage. SQLite by default; the schema is plain SQL. */
export class Registry {
  private constructor(readonly db: Kysely<RegistryDatabase>) {}

  static async openSqlite(file: string): Promise<Registry> {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const sqlite = new Database(file);
    // WAL lets the API read while a worker writes; busy_timeout rides out short write locks.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    const registry = new Registry(new Kysely<RegistryDatabase>({ dialect: new SqliteDialect({ database: sqlite }) }));
    await registry.migrate();
    return registry;
  }

  private async migrate(): Promise<void> {
    const { error } = await new Migrator({ db: this.db, provider: migrationProvider }).migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
  }

  /** Registers a new version, or returns the one already registered under the same idempotency key. */
  async registerVersion(v: NewModelVersion): Promise<ModelVersion> {
    return this.db.transaction().execute(async (trx) => {
      const existing = await trx.selectFrom('model_versions').selectAll().where('idempotency_key', '=', v.idempotencyKey).executeTakeFirst();
      if (existing) return toModelVersion(existing);
      const now = new Date().toISOString();
      await trx.insertInto('models').values({ name: v.model, created_at: now }).onConflict((oc) => oc.column('name').doNothing()).execute();
      const { max } = await trx
        .selectFrom('model_versions')
        .select((eb) => eb.fn.max<number | null>('version').as('max'))
        .where('model', '=', v.model)
        .executeTakeFirstOrThrow();
      const row = await trx
        .insertInto('model_versions')
        .values({
          model: v.model,
          version: (max ?? 0) + 1,
          artifact_digest: v.artifactDigest,
          artifact_size: v.artifactSize,
          repo_url: v.repoUrl,
          repo_path: v.repoPath,
          commit_sha: v.commitSha,
          dataset_uri: v.datasetUri,
          dataset_fingerprint: v.datasetFingerprint,
          params_json: JSON.stringify(v.params),
          metrics_json: JSON.stringify(v.metrics),
          workflow_id: v.workflowId,
          run_id: v.runId,
          idempotency_key: v.idempotencyKey,
          created_by: v.createdBy,
          created_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toModelVersion(row);
    });
  }

  async getVersion(model: string, version: number): Promise<ModelVersion> {
    const row = await this.db.selectFrom('model_versions').selectAll().where('model', '=', model).where('version', '=', version).executeTakeFirst();
    if (!row) throw new MloopError('NotFound', `model "${model}" has no version ${version}`);
    return toModelVersion(row);
  }

  async listVersions(model: string): Promise<ModelVersion[]> {
    const rows = await this.db.selectFrom('model_versions').selectAll().where('model', '=', model).orderBy('version').execute();
    return rows.map(toModelVersion);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

function toModelVersion(r: Selectable<ModelVersionsTable>): ModelVersion {
  return {
    model: r.model,
    version: r.version,
    artifactDigest: r.artifact_digest,
    artifactSize: r.artifact_size,
    repoUrl: r.repo_url,
    repoPath: r.repo_path,
    commitSha: r.commit_sha,
    datasetUri: r.dataset_uri,
    datasetFingerprint: r.dataset_fingerprint,
    params: JSON.parse(r.params_json) as Record<string, unknown>,
    metrics: JSON.parse(r.metrics_json) as Record<string, number>,
    workflowId: r.workflow_id,
    runId: r.run_id,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}
