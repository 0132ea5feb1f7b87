import { evaluateGates, type Gate } from '../core/evaluation/gates';
import type {
  Metrics,
  ModelVersion,
  NewModelVersion,
  NewShadowReport,
  Registry,
  RunEvaluation,
} from '../core/registry/registry';
import type { HoldoutInfo, PreparedDataset, VersionRef } from '../workflows/definitions';
import { executionKeys } from './context';
import { withFailureMapping } from './failures';

export interface RecordRunInput {
  lifecycleId: string;
  model: string;
  repoUrl: string;
  repoPath: string;
  commitSha: string;
  dataset: PreparedDataset;
  params: Record<string, unknown>;
  metrics: Metrics;
  gates: Gate[];
  holdout: HoldoutInfo;
  champion: RunEvaluation['champion'];
  createdBy: string;
}

export type RegisterInput = Omit<NewModelVersion, 'idempotencyKey' | 'workflowId' | 'runId' | 'trainingRunId'> & {
  trainingRunId: string;
};

export const createRegistryActivities = (deps: { registry: Registry }) =>
  withFailureMapping({
    /** The version the `champion` alias names now, with what it takes to score it again. */
    async findChampion(input: { model: string }): Promise<VersionRef | null> {
      const version = (await deps.registry.getAliases(input.model)).champion;
      if (version === undefined) return null;
      const v = await deps.registry.getVersion(input.model, version);
      return {
        version,
        commitSha: v.commitSha,
        repoUrl: v.repoUrl,
        repoPath: v.repoPath,
        artifactDigest: v.artifactDigest,
      };
    },

    /**
     * Applies the gates and stores the run with its comparison table, whatever the outcome, so a
     * rejected candidate can still be compared later. Keyed by the workflow execution, so a
     * retry records nothing new.
     */
    async recordRun(input: RecordRunInput): Promise<{ runId: string; evaluation: RunEvaluation }> {
      const { workflowId, runId } = executionKeys();
      const { passed, results } = evaluateGates(input.gates, input.metrics, input.champion?.metrics ?? null);
      const evaluation: RunEvaluation = {
        holdout: input.holdout,
        candidate: input.metrics,
        champion: input.champion,
        gates: results,
        passed,
      };
      const run = await deps.registry.recordRun({
        runKey: `${workflowId}/${runId}`,
        lifecycleId: input.lifecycleId,
        model: input.model,
        repoUrl: input.repoUrl,
        repoPath: input.repoPath,
        commitSha: input.commitSha,
        datasetUri: input.dataset.uri,
        datasetFingerprint: input.dataset.fingerprint,
        params: input.params,
        metrics: input.metrics,
        evaluation,
        outcome: passed ? 'passed' : 'gate_failed',
        createdBy: input.createdBy,
      });
      return { runId: run.id, evaluation: run.evaluation };
    },

    /** Keeps a shadow test's final report with the version it tested; retries record it once. */
    async recordShadowReport(input: Omit<NewShadowReport, 'key'>): Promise<void> {
      const { workflowId, runId, activityId } = executionKeys();
      await deps.registry.recordShadowReport({ ...input, key: `${workflowId}/${runId}/${activityId}` });
    },

    /**
     * Registers the version (retries return the same one) and points `challenger` at it: it has
     * passed its gates and waits for promotion.
     */
    async registerModelVersion(input: RegisterInput): Promise<ModelVersion> {
      const { workflowId, runId, activityId } = executionKeys();
      const version = await deps.registry.registerVersion({
        ...input,
        workflowId,
        runId,
        idempotencyKey: `${workflowId}/${runId}/${activityId}`,
      });
      await deps.registry.setAlias({
        model: input.model,
        alias: 'challenger',
        version: version.version,
        by: input.createdBy,
        reason: `passed its gates in ${workflowId}`,
      });
      return version;
    },
  });
