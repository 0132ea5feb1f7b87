import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { migrationProvider } from '../../../core/registry/migrations';
import { Registry } from '../../../core/registry/registry';
import type { RegistryDatabase } from '../../../core/registry/schema';
import { newVersion } from '../../helpers/registry';
import { tempDir } from '../../helpers/stack';

const { idempotencyKey: _unused, ...base } = newVersion('pm', 'unused', {
  workflowId: 'lifecycle/pm/1',
  runId: 'run-1',
});

describe('registry (SQLite)', async () => {
  const registry = await Registry.openSqlite(path.join(await tempDir('registry'), 'registry.db'));
  afterAll(async () => registry.close());

  it('numbers versions per model and keeps lineage', async () => {
    const v1 = await registry.registerVersion({ ...base, idempotencyKey: 'k1' });
    const v2 = await registry.registerVersion({ ...base, idempotencyKey: 'k2', metrics: { accuracy: 0.95 } });
    const other = await registry.registerVersion({ ...base, model: 'other', idempotencyKey: 'k3' });
    expect([v1.version, v2.version, other.version]).toEqual([1, 2, 1]);
    expect(await registry.getVersion('pm', 2)).toMatchObject({
      commitSha: base.commitSha,
      metrics: { accuracy: 0.95 },
      params: base.params,
    });
  });

  it('returns the same version when a registration is retried with the same key', async () => {
    const first = await registry.registerVersion({ ...base, model: 'retry', idempotencyKey: 'same' });
    const again = await registry.registerVersion({ ...base, model: 'retry', idempotencyKey: 'same' });
    expect(again).toEqual(first);
    expect(await registry.listVersions('retry')).toHaveLength(1);
  });

  it('keeps the positive class with the version, the class 1 apart from the class "1"', async () => {
    const classes = ['yes', 1, '1', null] as const;
    for (const [i, positiveClass] of classes.entries()) {
      const v = await registry.registerVersion({ ...base, model: 'positive', idempotencyKey: `p${i}`, positiveClass });
      expect(v.positiveClass).toBe(positiveClass);
      expect((await registry.getVersion('positive', v.version)).positiveClass).toBe(positiveClass);
    }
    const unrecorded = await registry.registerVersion({ ...base, model: 'positive', idempotencyKey: 'none' });
    expect(unrecorded.positiveClass).toBeNull();
    await expect(
      registry.registerVersion({ ...base, model: 'positive', idempotencyKey: 'bad', positiveClass: Number.NaN }),
    ).rejects.toThrow('positiveClass: must be text, a finite number or null (got NaN)');
    expect(await registry.listVersions('positive')).toHaveLength(5);
  });

  it('says which version is missing', async () => {
    await expect(registry.getVersion('pm', 99)).rejects.toThrow('model "pm" has no version 99');
  });

  it('upgrades a registry created before runs and aliases, keeping its versions', async () => {
    const file = path.join(await tempDir('registry-upgrade'), 'registry.db');
    const old = new Kysely<RegistryDatabase>({ dialect: new SqliteDialect({ database: new Database(file) }) });
    const first = {
      '0001_models_and_versions': (await migrationProvider.getMigrations())['0001_models_and_versions']!,
    };
    const { error } = await new Migrator({ db: old, provider: { getMigrations: async () => first } }).migrateToLatest();
    expect(error).toBeUndefined();
    // A version as the first schema stored it.
    await old.insertInto('models').values({ name: 'pm', created_at: '2025-12-01T00:00:00.000Z' }).execute();
    await old
      .insertInto('model_versions')
      .values({
        model: 'pm',
        version: 1,
        artifact_digest: base.artifactDigest,
        artifact_size: base.artifactSize,
        repo_url: base.repoUrl,
        repo_path: base.repoPath,
        commit_sha: base.commitSha,
        dataset_uri: base.datasetUri,
        dataset_fingerprint: base.datasetFingerprint,
        params_json: '{}',
        metrics_json: '{"accuracy":0.9}',
        workflow_id: base.workflowId,
        run_id: base.runId,
        idempotency_key: 'before',
        created_by: 'alice',
        created_at: '2025-12-01T00:00:00.000Z',
      })
      .execute();
    await old.destroy();

    const upgraded = await Registry.openSqlite(file);
    try {
      expect(await upgraded.getVersion('pm', 1)).toMatchObject({
        commitSha: base.commitSha,
        trainingRunId: null,
        metrics: { accuracy: 0.9 },
        positiveClass: null,
      });
      await expect(
        upgraded.setAlias({ model: 'pm', alias: 'champion', version: 1, by: 'alice' }),
      ).resolves.toMatchObject({ changed: true });
      expect((await upgraded.registerVersion({ ...base, idempotencyKey: 'after' })).version).toBe(2);
    } finally {
      await upgraded.close();
    }
  });
});
