import path from 'node:path';
import { Registry, type NewModelVersion, type NewRun } from '../../core/registry/registry';
import { tempDir } from './stack';

/** A clock the test moves by hand, so alias history gets exact, distinct instants. */
export function manualClock(start = '2026-01-01T00:00:00.000Z'): { now: () => Date; set(iso: string): void } {
  let t = new Date(start);
  return {
    now: () => new Date(t),
    set(iso: string) {
      t = new Date(iso);
    },
  };
}

export async function openTestRegistry(name: string, now?: () => Date): Promise<Registry> {
  return Registry.openSqlite(path.join(await tempDir(name), 'registry.db'), now ? { now } : {});
}

export function newVersion(
  model: string,
  idempotencyKey: string,
  overrides: Partial<NewModelVersion> = {},
): NewModelVersion {
  return {
    model,
    artifactDigest: `sha256:${'a'.repeat(64)}`,
    artifactSize: 10,
    repoUrl: '/srv/pm',
    repoPath: '',
    commitSha: 'b'.repeat(40),
    datasetUri: '/data/h.csv',
    datasetFingerprint: `sha256:${'c'.repeat(64)}`,
    params: { n_estimators: 10 },
    metrics: { accuracy: 0.9 },
    workflowId: `lifecycle/${model}/${idempotencyKey}`,
    runId: 'temporal-run-1',
    idempotencyKey,
    createdBy: 'alice',
    ...overrides,
  };
}

export function newRun(model: string, runKey: string, overrides: Partial<NewRun> = {}): NewRun {
  const metrics = overrides.metrics ?? { accuracy: 0.9 };
  const outcome = overrides.outcome ?? 'passed';
  return {
    runKey,
    lifecycleId: `lifecycle/${model}/nightly`,
    model,
    repoUrl: '/srv/pm',
    repoPath: '',
    commitSha: 'b'.repeat(40),
    datasetUri: '/data/h.csv',
    datasetFingerprint: `sha256:${'c'.repeat(64)}`,
    params: { n_estimators: 10 },
    metrics,
    evaluation: {
      holdout: { seed: 7, fraction: 0.2, rows: 600, digest: `sha256:${'d'.repeat(64)}` },
      candidate: metrics,
      champion: null,
      gates: [],
      passed: outcome === 'passed',
    },
    outcome,
    createdBy: 'alice',
    ...overrides,
  };
}
