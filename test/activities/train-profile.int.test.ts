import fs from 'node:fs/promises';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainActivities, type RunTrainingInput, type RunTrainingResult } from '../../activities/train';
import { fingerprintDataset } from '../../core/data/fingerprint';
import { DriftRunner } from '../../core/monitoring/drift-runner';
import { createWorkerDeps, type WorkerDeps } from '../../workers/deps';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { writeSensorWindow } from '../helpers/monitoring';
import { config, tempDir } from '../helpers/stack';

describe('runTraining keeps the reference profile', () => {
  let deps: WorkerDeps;
  beforeAll(async () => {
    deps = await createWorkerDeps({ ...config, dataDir: await tempDir('train-profile') });
  });
  afterAll(async () => deps?.close());

  it('stores the profile content-addressed beside the artifact, the same on a rerun, for drift checks', async () => {
    const repo = await createExampleModelRepo();
    const file = await createExampleDataset(2000);
    const input = {
      lifecycleId: 'lifecycle/predictive-maintenance/train-profile-test',
      repoUrl: repo.url,
      repoPath: repo.path,
      commitSha: repo.sha,
      dataset: { path: file, uri: file, fingerprint: await fingerprintDataset(file) },
      params: {},
      holdout: { seed: 0, fraction: 0.2 },
      timeoutMinutes: 10,
    };
    const { runTraining } = createTrainActivities(deps);
    const train = (attempt: number): Promise<RunTrainingResult> =>
      new MockActivityEnvironment({ attempt }).run<[RunTrainingInput], RunTrainingResult, typeof runTraining>(
        runTraining,
        input,
      );
    const first = await train(1);
    const again = await train(2);

    expect(first.profileDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(first.profileDigest).not.toBe(first.artifactDigest);
    expect(again.profileDigest).toBe(first.profileDigest);
    expect(await deps.artifacts.verify(first.profileDigest)).toBe(true);
    expect(first).not.toHaveProperty('profile');
    const profile = deps.artifacts.pathOf(first.profileDigest);
    const stored: unknown = JSON.parse(await fs.readFile(profile, 'utf8'));
    expect(stored).toMatchObject({ format: 'mloop.reference-profile/1', training_rows: 1600 });

    const dir = await tempDir('train-profile-drift');
    const current = await writeSensorWindow(path.join(dir, 'window.csv'), 1000, 3, { vibration_mm_s: 3 });
    const { report } = await new DriftRunner(deps.python).check({ profile, current, outDir: path.join(dir, 'report') });
    expect(report.features.filter((f) => f.drift).map((f) => f.name)).toEqual(['vibration_mm_s']);
  });
});
