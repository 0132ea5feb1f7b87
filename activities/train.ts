import { Context } from '@temporalio/activity';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactStore } from '../core/artifacts/store';
import { fingerprintDataset } from '../core/data/fingerprint';
import type { GitCheckouts } from '../core/git/checkout';
import type { PythonTrainRunner, RuntimeEvent } from '../core/python/train-runner';
import type { DatasetRef } from '../workflows/definitions';
import { executionKeys } from './context';
import { withFailureMapping } from './failures';

export interface TrainActivityDeps {
  git: GitCheckouts;
  artifacts: ArtifactStore;
  python: PythonTrainRunner;
  /** Scratch space for checkouts and run outputs; each attempt cleans up after itself. */
  workDir: string;
  trainTimeoutMs?: number;
}

export interface RunTrainingInput {
  repoUrl: string;
  repoPath: string;
  commitSha: string;
  dataset: DatasetRef;
  params: Record<string, unknown>;
}

export interface RunTrainingResult {
  artifactDigest: string;
  artifactSize: number;
  datasetFingerprint: string;
  metrics: Record<string, number>;
  rows: { train: number; holdout: number };
  params: Record<string, unknown>;
}

export const createTrainActivities = (deps: TrainActivityDeps) =>
  withFailureMapping({
    /** Pins a branch, tag or SHA to the commit it names now. */
    async resolveCommit(input: { repoUrl: string; ref: string }): Promise<string> {
      return deps.git.resolve(input.repoUrl, input.ref);
    },

    /**
     * Checks out the pinned commit, runs the model's training entrypoint on the dataset, and
     * stores the artifact by its sha256. Heartbeats carry the runtime's progress events.
     */
    async runTraining(input: RunTrainingInput): Promise<RunTrainingResult> {
      const ctx = Context.current();
      const { workflowId, activityId, attempt } = executionKeys();
      const scratch = path.join(deps.workDir, safeName(`${workflowId}-${activityId}-${attempt}`));
      const checkout = path.join(scratch, 'repo');
      const outDir = path.join(scratch, 'out');
      await fs.rm(scratch, { recursive: true, force: true });
      await fs.mkdir(scratch, { recursive: true });
      try {
        const datasetFingerprint = await fingerprintDataset(input.dataset.path);
        ctx.heartbeat({ phase: 'checkout' });
        await deps.git.materialize(input.repoUrl, input.commitSha, checkout);
        const modelDir = path.join(checkout, input.repoPath);
        const beat = setInterval(() => ctx.heartbeat({ phase: 'running' }), 5_000);
        let outcome;
        try {
          outcome = await deps.python.train(
            { modelDir, dataset: input.dataset.path, outDir, params: input.params, timeoutMs: deps.trainTimeoutMs },
            (ev: RuntimeEvent) => {
              if (ev.event === 'progress') ctx.heartbeat(ev);
              else if (ev.event === 'log') ctx.log.info(ev.line);
            },
            ctx.cancellationSignal,
          );
        } finally {
          clearInterval(beat);
        }
        const stored = await deps.artifacts.put(path.join(outDir, outcome.artifact));
        return {
          artifactDigest: stored.digest,
          artifactSize: stored.sizeBytes,
          datasetFingerprint,
          metrics: outcome.metrics,
          rows: outcome.rows,
          params: outcome.params,
        };
      } finally {
        await deps.git.release(input.repoUrl, checkout).catch(() => undefined);
        await fs.rm(scratch, { recursive: true, force: true });
      }
    },
  });

const safeName = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_');
