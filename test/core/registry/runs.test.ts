import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from '../../../core/registry/registry';
import { manualClock, newRun, newVersion, openTestRegistry } from '../../helpers/registry';

describe('registry training runs (SQLite)', () => {
  const clock = manualClock('2026-06-01T00:00:00.000Z');
  let registry: Registry;

  beforeAll(async () => {
    registry = await openTestRegistry('runs', clock.now);
  });
  afterAll(async () => registry.close());

  it('records a run once per run key and returns the first row on retry', async () => {
    const first = await registry.recordRun(newRun('idem', 'lifecycle/idem/a/train'));
    clock.set('2026-06-01T00:05:00.000Z');
    const retried = await registry.recordRun(newRun('idem', 'lifecycle/idem/a/train', { metrics: { accuracy: 0.1 } }));
    expect(retried).toEqual(first);
    expect(first).toMatchObject({
      id: 'lifecycle/idem/a/train',
      lifecycleId: 'lifecycle/idem/nightly',
      version: null,
      createdAt: '2026-06-01T00:00:00.000Z',
    });
    expect(await registry.listRuns('idem')).toHaveLength(1);
    await expect(registry.getRun('lifecycle/idem/a/train')).resolves.toEqual(first);
  });

  it('keeps runs that failed their gates, and their model, without a version', async () => {
    const run = await registry.recordRun(
      newRun('failing', 'lifecycle/failing/a/train', {
        outcome: 'gate_failed',
        metrics: { accuracy: 0.5, roc_auc: null },
      }),
    );
    expect(run).toMatchObject({ outcome: 'gate_failed', version: null, metrics: { accuracy: 0.5, roc_auc: null } });
    expect(await registry.getModel('failing')).toEqual({
      name: 'failing',
      createdAt: '2026-06-01T00:05:00.000Z',
      latestVersion: null,
      aliases: {},
    });
    await expect(registry.listVersions('failing')).resolves.toEqual([]);
  });

  it('links a run and the version registered from it both ways', async () => {
    const run = await registry.recordRun(newRun('linked', 'lifecycle/linked/a/train'));
    const version = await registry.registerVersion(newVersion('linked', 'linked-1', { trainingRunId: run.id }));
    expect(version.trainingRunId).toBe(run.id);
    expect((await registry.getRun(run.id)).version).toBe(1);
    // Attaching what registration already linked is a no-op.
    await expect(registry.attachVersionToRun(run.id, 1)).resolves.toMatchObject({ id: run.id, version: 1 });

    const other = await registry.recordRun(newRun('linked', 'lifecycle/linked/b/train'));
    await registry.registerVersion(newVersion('linked', 'linked-2'));
    await expect(registry.attachVersionToRun(other.id, 2)).resolves.toMatchObject({ version: 2 });
    expect((await registry.getVersion('linked', 2)).trainingRunId).toBe(other.id);

    await expect(registry.attachVersionToRun(other.id, 1)).rejects.toThrow(
      'run "lifecycle/linked/b/train" already produced version 2 of "linked"',
    );
    const third = await registry.recordRun(newRun('linked', 'lifecycle/linked/c/train'));
    await expect(registry.attachVersionToRun(third.id, 1)).rejects.toThrow(
      'version 1 of "linked" came from run "lifecycle/linked/a/train"',
    );
    await expect(registry.attachVersionToRun(third.id, 9)).rejects.toThrow('model "linked" has no version 9');
    await expect(registry.attachVersionToRun('no/such/run', 1)).rejects.toThrow('no run "no/such/run"');
  });

  it("refuses to link a version to another model's run or to a missing run, registering nothing", async () => {
    const run = await registry.recordRun(newRun('linked', 'lifecycle/linked/d/train'));
    await expect(
      registry.registerVersion(newVersion('elsewhere', 'elsewhere-1', { trainingRunId: run.id })),
    ).rejects.toThrow('run "lifecycle/linked/d/train" trained model "linked", not "elsewhere"');
    await expect(
      registry.registerVersion(newVersion('elsewhere', 'elsewhere-2', { trainingRunId: 'missing' })),
    ).rejects.toThrow('no run "missing"');
    await expect(registry.listVersions('elsewhere')).resolves.toEqual([]);
  });

  it('rejects run keys that the compare endpoint could not name', async () => {
    for (const key of ['', 'a,b', '/leading-slash', 'has space']) {
      await expect(registry.recordRun(newRun('keys', key))).rejects.toMatchObject({
        code: 'InvalidInput',
        details: { field: 'runKey' },
      });
    }
  });

  it('compares runs side by side over every metric any of them has', async () => {
    const a = await registry.recordRun(
      newRun('cmp', 'lifecycle/cmp/a/train', { metrics: { accuracy: 0.9, roc_auc: 0.8 }, params: { depth: 3 } }),
    );
    const b = await registry.recordRun(
      newRun('cmp', 'lifecycle/cmp/b/train', {
        metrics: { accuracy: 0.92, f1: 0.7 },
        params: { depth: 5 },
        commitSha: 'e'.repeat(40),
        outcome: 'gate_failed',
      }),
    );
    const table = await registry.compareRuns([b.id, a.id]);
    expect(table.metrics).toEqual({ accuracy: [0.92, 0.9], f1: [0.7, null], roc_auc: [null, 0.8] });
    expect(table.runs.map((r) => [r.id, r.commitSha, r.params, r.outcome, r.datasetFingerprint])).toEqual([
      [b.id, 'e'.repeat(40), { depth: 5 }, 'gate_failed', b.datasetFingerprint],
      [a.id, 'b'.repeat(40), { depth: 3 }, 'passed', a.datasetFingerprint],
    ]);
    await expect(registry.compareRuns([a.id, 'lifecycle/cmp/zzz/train'])).rejects.toThrow(
      'no run "lifecycle/cmp/zzz/train"',
    );
    await expect(registry.compareRuns([a.id, a.id])).rejects.toMatchObject({
      code: 'InvalidInput',
      details: { field: 'ids' },
    });
  });
});
