import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { ArtifactStore } from '../core/artifacts/store';
import { resolveRanges } from '../core/data/topic-snapshot';
import type { GitCheckouts } from '../core/git/checkout';
import type { KafkaPort } from '../core/kafka/adapter';
import type { PythonRuntimeOptions } from '../core/python/runtime';
import type { Registry } from '../core/registry/registry';
import { modelDirIn } from '../core/security/allowed-roots';
import { KServeClient, type FeatureSpec } from '../core/serving/kserve-client';
import { judgeShadow, type ShadowJudgement, type ShadowThresholds } from '../core/shadow/thresholds';
import { startModelServer, type RunningModelServer } from '../core/serving/model-server';
import { emptyShadowState, resumeShadow, type ShadowCheckpoint, type ShadowReport } from '../core/shadow/metrics';
import { runShadow, type ServedModel } from '../core/shadow/runner';
import {
  shadowProgressUpdate,
  shadowStopRequestedQuery,
  type ShadowConfig,
  type ShadowStart,
  type VersionRef,
} from '../workflows/definitions';
import { shadowProgressMetrics } from '../core/metrics/shadow-progress';
import { withFailureMapping } from './failures';
import { createWorkspace } from './workspace';

export interface ShadowActivityDeps {
  git: GitCheckouts;
  artifacts: ArtifactStore;
  kafka: KafkaPort;
  temporal: Client;
  registry: Registry;
  python: PythonRuntimeOptions;
  workDir: string;
}

export interface RunShadowInput {
  lifecycleId: string;
  model: string;
  task: 'classification' | 'regression';
  candidate: VersionRef;
  champion: VersionRef | null;
  config: ShadowConfig;
  /** Where reading starts on the first attempt; later attempts resume from their checkpoint. */
  inputOffsets: Record<string, string>;
  labelOffsets: Record<string, string>;
  /** Epoch ms after which the test ends (from `stopAfter.seconds`). */
  deadlineMs: number | null;
  shadowTopic: string;
  deadLetterTopic: string;
}

const datatypeToFeature: Record<string, FeatureSpec['type']> = {
  FP64: 'number',
  FP32: 'number',
  INT64: 'integer',
  INT32: 'integer',
  BYTES: 'string',
};

export const createShadowActivities = (deps: ShadowActivityDeps) => {
  const { withScratch, withCheckout } = createWorkspace(deps);

  /** Serves one registered version from its own commit for the duration of `fn`. */
  const withServer = async <T>(
    model: string,
    v: VersionRef,
    scratch: string,
    fn: (served: ServedModel) => Promise<T>,
  ): Promise<T> =>
    withCheckout(
      v.repoUrl,
      v.commitSha,
      scratch,
      async (checkout) => {
        let server: RunningModelServer | undefined;
        try {
          server = await startModelServer({
            python: deps.python.python,
            runtimeDir: deps.python.runtimeDir,
            ...(deps.python.runnerUser ? { runnerUser: deps.python.runnerUser } : {}),
            modelDir: await modelDirIn(checkout, v.repoPath, 'repoPath'),
            artifact: deps.artifacts.pathOf(v.artifactDigest),
            modelName: model,
            modelVersion: String(v.version),
          });
          const client = new KServeClient(server.url, model);
          const meta = await client.metadata();
          const features = meta.inputs.map((i) => ({ name: i.name, type: datatypeToFeature[i.datatype] ?? 'string' }));
          return await fn({ client, features, version: v.version });
        } finally {
          await server?.stop();
        }
      },
      `v${v.version}`,
    );

  return withFailureMapping({
    /** Applies the thresholds; an activity so the judging code stays out of the workflow sandbox. */
    async judgeShadowReport(input: { report: ShadowReport; thresholds: ShadowThresholds }): Promise<ShadowJudgement> {
      return judgeShadow(input.report, input.thresholds);
    },

    /** Turns a start position into explicit offsets, so every attempt starts at the same place. */
    async resolveStreamOffsets(input: { topic: string; startAt: ShadowStart }): Promise<Record<string, string>> {
      await deps.kafka.ensureTopic(input.topic, 1).catch(() => undefined);
      const spec =
        input.startAt === 'latest'
          ? { topic: input.topic, from: undefined, to: undefined }
          : input.startAt === 'earliest'
            ? { topic: input.topic }
            : { topic: input.topic, from: input.startAt };
      const ranges = await resolveRanges(deps.kafka, spec);
      return Object.fromEntries(ranges.map((r) => [String(r.partition), input.startAt === 'latest' ? r.to : r.from]));
    },

    /**
     * Serves the candidate (and the champion) from their own commits and runs the shadow test,
     * heartbeating its checkpoint so that a retry resumes exactly where the last one stopped.
     */
    async runShadowTest(input: RunShadowInput): Promise<ShadowReport> {
      const ctx = Context.current();
      const details = ctx.info.heartbeatDetails as { elapsedMs?: number } | undefined;
      // A resumed test keeps the positive class it counted with; a new one takes the candidate's.
      const checkpoint: ShadowCheckpoint =
        details !== undefined ? resumeShadow(details) : await startingCheckpoint(deps.registry, input);
      await deps.kafka.ensureTopic(input.shadowTopic, 1);
      await deps.kafka.ensureTopic(input.deadLetterTopic, 1);
      const lifecycle = deps.temporal.workflow.getHandle(input.lifecycleId);
      const metrics = shadowProgressMetrics({
        model: input.model,
        inputTopic: input.config.inputTopic,
        kafka: deps.kafka,
        startMessages: checkpoint.state.messages,
        key: `${input.lifecycleId}/${ctx.info.activityId}`,
      });

      return withScratch((scratch) =>
        withServer(input.model, input.candidate, scratch, (candidate) => {
          const run = (champion: ServedModel | null): Promise<ShadowReport> =>
            runShadow({
              kafka: deps.kafka,
              model: input.model,
              candidate,
              champion,
              inputTopic: input.config.inputTopic,
              labelsTopic: input.config.labelsTopic,
              labelField: input.config.labelField ?? 'label',
              shadowTopic: input.shadowTopic,
              deadLetterTopic: input.deadLetterTopic,
              checkpoint,
              maxMessages: input.config.stopAfter.messages ?? Number.POSITIVE_INFINITY,
              deadlineMs: input.deadlineMs,
              elapsedBeforeMs: typeof details?.elapsedMs === 'number' ? details.elapsedMs : 0,
              onCheckpoint: (cp, elapsedMs) => {
                metrics.checkpoint(cp.state.messages, cp.offsets);
                ctx.heartbeat({ ...cp, elapsedMs });
              },
              // The lifecycle shows the figures and answers whether someone asked to stop.
              onProgress: async (r) =>
                lifecycle
                  .executeUpdate(shadowProgressUpdate, { args: [r] })
                  .then((a) => a.stop)
                  .catch(() => false),
              stopRequested: () => lifecycle.query(shadowStopRequestedQuery),
              signal: ctx.cancellationSignal,
            });
          return input.champion
            ? withServer(input.model, input.champion, scratch, (champion) => run(champion))
            : run(null);
        }),
      ).finally(() => metrics.end());
    },
  });
};

/**
 * The checkpoint a shadow test starts from: its pinned offsets, and empty figures whose positive
 * class is the one recorded with the candidate's version, so that shadow precision, recall and
 * f1 are of the class its training metrics are of.
 */
export async function startingCheckpoint(
  registry: Pick<Registry, 'getVersion'>,
  input: Pick<RunShadowInput, 'model' | 'task' | 'candidate' | 'config' | 'inputOffsets' | 'labelOffsets'>,
): Promise<ShadowCheckpoint> {
  const { positiveClass } = await registry.getVersion(input.model, input.candidate.version);
  const labelWindowMs = (input.config.labelWindowSeconds ?? 3600) * 1000;
  const empty = emptyShadowState(input.task, { labelWindowMs, positiveLabel: positiveClass });
  const state = { ...empty, offsets: { ...input.inputOffsets }, labelOffsets: { ...input.labelOffsets } };
  return { offsets: input.inputOffsets, labelOffsets: input.labelOffsets, state };
}
