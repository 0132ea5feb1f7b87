import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrationProvider } from '../../../core/registry/migrations';
import { Registry } from '../../../core/registry/registry';
import type { RegistryDatabase } from '../../../core/registry/schema';
import { newVersion } from '../../helpers/registry';
import { tempDir } from '../../helpers/stack';

const profileDigest = `sha256:${'f'.repeat(64)}`;

describe('reference profile digests of versions', () => {
  it('keeps the digest with the version, and null for versions without a profile', async () => {
    const registry = await Registry.openSqlite(path.join(await tempDir('profile-digest'), 'registry.db'));
    try {
      const withProfile = await registry.registerVersion(newVersion('pm', 'k1', { profileDigest }));
      const without = await registry.registerVersion(newVersion('pm', 'k2'));
      expect(withProfile.profileDigest).toBe(profileDigest);
      expect(without.profileDigest).toBeNull();
      expect((await registry.getVersion('pm', 1)).profileDigest).toBe(profileDigest);
      expect((await registry.listVersions('pm')).map((v) => v.profileDigest)).toEqual([profileDigest, null]);
    } finally {
      await registry.close();
    }
  });

  it('upgrades a registry of versions trained before profiles, keeping them without one', async () => {
    const file = path.join(await tempDir('profile-upgrade'), 'registry.db');
    const all = await migrationProvider.getMigrations();
    const before = Object.fromEntries(Object.entries(all).filter(([name]) => name < '0005'));
    const old = new Kysely<RegistryDatabase>({ dialect: new SqliteDialect({ database: new Database(file) }) });
    const migrator = new Migrator({ db: old, provider: { getMigrations: async () => before } });
    expect((await migrator.migrateToLatest()).error).toBeUndefined();
    const v = newVersion('pm', 'before');
    await old.insertInto('models').values({ name: 'pm', created_at: '2025-12-01T00:00:00.000Z' }).execute();
    await old
      .insertInto('model_versions')
      .values({
        model: 'pm',
        version: 1,
        artifact_digest: v.artifactDigest,
        artifact_size: v.artifactSize,
        repo_url: v.repoUrl,
        repo_path: v.repoPath,
        commit_sha: v.commitSha,
        dataset_uri: v.datasetUri,
        dataset_fingerprint: v.datasetFingerprint,
        params_json: '{}',
        metrics_json: '{}',
        workflow_id: v.workflowId,
        run_id: v.runId,
        idempotency_key: v.idempotencyKey,
        created_by: v.createdBy,
        created_at: '2025-12-01T00:00:00.000Z',
      })
      .execute();
    await old.destroy();

    const registry = await Registry.openSqlite(file);
    try {
      expect((await registry.getVersion('pm', 1)).profileDigest).toBeNull();
      const next = await registry.registerVersion(newVersion('pm', 'after', { profileDigest }));
      expect([next.version, next.profileDigest]).toEqual([2, profileDigest]);
    } finally {
      await registry.close();
    }
  });
});
