import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import path from 'node:path';
import type { ArtifactStore } from '../core/artifacts/store';
import { fingerprintDataset } from '../core/data/fingerprint';
import { snapshotTopic } from '../core/data/topic-snapshot';
import { MloopError } from '../core/errors';
import type { GitCheckouts } from '../core/git/checkout';
import type { KafkaPort } from '../core/kafka/adapter';
import type { EvaluateOutcome, PythonRuntime, RuntimeEvent, TrainOutcome } from '../core/python/runtime';
import { modelDirIn, resolveUnderRoots } from '../core/security/allowed-roots';
import type { DatasetRef, HoldoutSpec, PreparedDataset } from '../workflows/definitions';
import { withFailureMapping } from './failures';
import { ProgressReporter } from './progress';
import { createWorkspace } from './workspace';

export interface TrainActivityDeps {
  git: GitCheckouts;
  artifacts: ArtifactStore;
  datasets: ArtifactStore;
  python: PythonRuntime;
  kafka: KafkaPort;
  temporal: Client;
  /** Scratch space for checkouts and run outputs; each attempt cleans up after itself. */
  workDir: string;
  /** Where local datasets may be read from (dataset snapshots are always allowed). */
  allowedRoots: readonly string[];
}

export interface RunTrainingInput {
  lifecycleId: string;
  repoUrl: string;
  repoPath: string;
  commitSha: string;
  dataset: PreparedDataset;
  params: Record<string, unknown>;
  holdout: HoldoutSpec;
  timeoutMinutes: number;
}

export type RunTrainingResult = Omit<TrainOutcome, 'artifact' | 'profile'> & {
  artifactDigest: string;
  artifactSize: number;
  /** The reference profile (drift checks), content-addressed in the artifact store like the artifact. */
  profileDigest: string;
};

export interface EvaluateVersionInput {
  repoUrl: string;
  repoPath: string;
  commitSha: string;
  artifactDigest: string;
  datasetPath: string;
  holdout: HoldoutSpec;
}

const datasetExtensions = ['.csv', '.parquet'];

export const createTrainActivities = (deps: TrainActivityDeps) => {
  const { withScratch, withCheckout } = createWorkspace(deps);
  // Checked again here: a workflow started through Temporal directly never met the API's checks.
  const checkDataset = (p: string, field: string): Promise<string> =>
    resolveUnderRoots(p, [...deps.allowedRoots, deps.datasets.root], field);

  return withFailureMapping({
    /** Pins a branch, tag or SHA to the commit it names now. */
    async resolveCommit(input: { repoUrl: string; ref: string }): Promise<string> {
      return deps.git.resolve(input.repoUrl, input.ref);
    },

    /**
     * Makes a dataset ready for training: a file is fingerprinted where it is; a topic range is
     * replayed into a CSV snapshot kept in the artifact store, so retries and later evaluations
     * read the very same bytes.
     */
    async prepareDataset(dataset: DatasetRef): Promise<PreparedDataset> {
      if (dataset.path !== undefined) {
        if (!datasetExtensions.includes(path.extname(dataset.path).toLowerCase())) {
          throw new MloopError(
            'DatasetInvalid',
            `dataset.path: "${dataset.path}" is neither a .csv nor a .parquet file`,
            { field: 'dataset.path' },
          );
        }
        await resolveUnderRoots(dataset.path, deps.allowedRoots, 'dataset.path');
        return { path: dataset.path, uri: dataset.path, fingerprint: await fingerprintDataset(dataset.path) };
      }
      const spec = dataset.kafka;
      return withScratch(async (scratch) => {
        const snap = await snapshotTopic(
          deps.kafka,
          spec,
          path.join(scratch, 'snapshot.csv'),
          Context.current().cancellationSignal,
        );
        if (snap.records === 0)
          throw new MloopError('DatasetInvalid', `dataset.kafka: the range of topic "${spec.topic}" holds no records`, {
            field: 'dataset.kafka',
          });
        const stored = await deps.datasets.put(snap.file);
        const ranges = snap.ranges.map((r) => `${r.partition}=${r.from}-${r.to}`).join('&');
        return {
          path: stored.path,
          uri: `kafka://${spec.topic}?${ranges}`,
          fingerprint: stored.digest,
          records: snap.records,
        };
      });
    },

    /**
     * Runs the model's training entrypoint at the pinned commit and stores the artifact and its
     * reference profile by their sha256. Progress goes to heartbeats (so a dead worker is noticed)
     * and to the lifecycle.
     */
    async runTraining(input: RunTrainingInput): Promise<RunTrainingResult> {
      const ctx = Context.current();
      const reporter = new ProgressReporter(deps.temporal, input.lifecycleId);
      await checkDataset(input.dataset.path, 'dataset.path');
      return withScratch((scratch) =>
        withCheckout(input.repoUrl, input.commitSha, scratch, async (checkout) => {
          const modelDir = await modelDirIn(checkout, input.repoPath);
          const beat = setInterval(() => ctx.heartbeat({ phase: 'running' }), 5_000);
          let outcome: TrainOutcome;
          try {
            outcome = await deps.python.train(
              {
                modelDir,
                dataset: input.dataset.path,
                outDir: path.join(scratch, 'out'),
                params: input.params,
                seed: input.holdout.seed,
                holdoutFraction: input.holdout.fraction,
              },
              {
                onEvent: (ev: RuntimeEvent) => forward(ev, reporter, ctx),
                signal: ctx.cancellationSignal,
                timeoutMs: input.timeoutMinutes * 60_000,
              },
            );
          } finally {
            clearInterval(beat);
            await reporter.flush();
          }
          const { artifact, profile, ...rest } = outcome;
          const stored = await deps.artifacts.put(path.join(scratch, 'out', artifact));
          const storedProfile = await deps.artifacts.put(path.join(scratch, 'out', profile));
          const digests = { artifactDigest: stored.digest, profileDigest: storedProfile.digest };
          return { ...rest, ...digests, artifactSize: stored.sizeBytes };
        }),
      );
    },

    /** Scores a registered version (its code at its commit, its artifact) on the same holdout. */
    async evaluateVersion(input: EvaluateVersionInput): Promise<EvaluateOutcome> {
      const ctx = Context.current();
      if (!(await deps.artifacts.verify(input.artifactDigest))) {
        throw new MloopError(
          'EvaluationFailed',
          `artifact ${input.artifactDigest} is missing or corrupt in the artifact store`,
        );
      }
      await checkDataset(input.datasetPath, 'datasetPath');
      return withScratch((scratch) =>
        withCheckout(input.repoUrl, input.commitSha, scratch, async (checkout) =>
          deps.python.evaluate(
            {
              modelDir: await modelDirIn(checkout, input.repoPath),
              artifact: deps.artifacts.pathOf(input.artifactDigest),
              dataset: input.datasetPath,
              seed: input.holdout.seed,
              holdoutFraction: input.holdout.fraction,
            },
            { onEvent: (ev) => ev.event === 'progress' && ctx.heartbeat(ev), signal: ctx.cancellationSignal },
          ),
        ),
      );
    },
  });
};

function forward(ev: RuntimeEvent, reporter: ProgressReporter, ctx: Context): void {
  if (ev.event === 'progress') {
    ctx.heartbeat(ev);
    reporter.progress({ phase: ev.phase, status: ev.status, rows: ev.rows, epoch: ev.epoch });
  } else if (ev.event === 'log') {
    reporter.logLine(ev.line);
  }
}
