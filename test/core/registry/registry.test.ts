import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Registry, type NewModelVersion } from '../../../core/registry/registry';
import { tempDir } from '../../helpers/stack';

const base: Omit<NewModelVersion, 'idempotencyKey'> = {
  model: 'pm',
  artifactDigest: `sha256:${'a'.repeat(64)}`,
  artifactSize: 10,
  repoUrl: '/srv/pm',
  repoPath: '',
  commitSha: 'b'.repeat(40),
  datasetUri: '/data/h.csv',
  datasetFingerprint: `sha256:${'c'.repeat(64)}`,
  params: { n_estimators: 10 },
  metrics: { accuracy: 0.9 },
  workflowId: 'lifecycle/pm/1',
  runId: 'run-1',
  createdBy: 'alice',
};

describe('registry (SQLite)', async () => {
  const registry = await Registry.openSqlite(path.join(await tempDir('registry'), 'registry.db'));
  afterAll(async () => registry.close());

  it('numbers versions per model and keeps lineage', async () => {
    const v1 = await registry.registerVersion({ ...base, idempotencyKey: 'k1' });
    const v2 = await registry.registerVersion({ ...base, idempotencyKey: 'k2', metrics: { accuracy: 0.95 } });
    const other = await registry.registerVersion({ ...base, model: 'other', idempotencyKey: 'k3' });
    expect([v1.version, v2.version, other.version]).toEqual([1, 2, 1]);
    expect(await registry.getVersion('pm', 2)).toMatchObject({ commitSha: base.commitSha, metrics: { accuracy: 0.95 }, params: base.params });
  });

  it('returns the same version when a registration is retried with the same key', async () => {
    const first = await registry.registerVersion({ ...base, model: 'retry', idempotencyKey: 'same' });
    const again = await registry.registerVersion({ ...base, model: 'retry', idempotencyKey: 'same' });
    expect(again).toEqual(first);
    expect(await registry.listVersions('retry')).toHaveLength(1);
  });

  it('says which version is missing', async () => {
    await expect(registry.getVersion('pm', 99)).rejects.toThrow('model "pm" has no version 99');
  });
});
