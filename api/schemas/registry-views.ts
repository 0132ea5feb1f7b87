import { Type } from '@sinclair/typebox';

// What the registry answers, as the API sends it. Nested documents the workflows write (params,
// evaluations, deploy decisions) are described by their top level and passed through whole.

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const anything = (description: string) => Type.Unknown({ description });

export const MetricsView = Type.Record(Type.String(), nullable(Type.Number()), {
  description: 'Metric name → value; null when undefined for the run (e.g. AUC on one class)',
});

const lineage = {
  repoUrl: Type.String(),
  repoPath: Type.String(),
  commitSha: Type.String(),
  datasetUri: Type.String(),
  datasetFingerprint: Type.String(),
  params: Type.Record(Type.String(), Type.Unknown(), { description: 'Training parameters used' }),
  metrics: MetricsView,
};

export const ModelSummaryView = Type.Object({
  name: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  latestVersion: nullable(Type.Integer()),
  aliases: Type.Record(Type.String(), Type.Integer(), { description: 'Alias name → version' }),
});

export const ModelVersionView = Type.Object({
  model: Type.String(),
  version: Type.Integer(),
  ...lineage,
  positiveClass: nullable(Type.Union([Type.String(), Type.Number()])),
  artifactDigest: Type.String(),
  artifactSize: Type.Integer(),
  workflowId: Type.String(),
  runId: Type.String({ description: 'Temporal run ID of the registering workflow' }),
  trainingRunId: nullable(Type.String()),
  profileDigest: nullable(Type.String()),
  createdBy: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  aliases: Type.Array(Type.String(), { description: 'Aliases that name this version now' }),
});

export const RunView = Type.Object({
  id: Type.String(),
  lifecycleId: Type.String(),
  model: Type.String(),
  ...lineage,
  evaluation: anything('Holdout, candidate and champion metrics, and each gate with its result'),
  outcome: Type.Union([Type.Literal('passed'), Type.Literal('gate_failed')]),
  version: nullable(Type.Integer()),
  createdBy: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
});

export const RunComparisonView = Type.Object({
  runs: Type.Array(
    Type.Object({
      id: Type.String(),
      model: Type.String(),
      lifecycleId: Type.String(),
      commitSha: Type.String(),
      datasetFingerprint: Type.String(),
      params: Type.Record(Type.String(), Type.Unknown()),
      outcome: Type.String(),
      version: nullable(Type.Integer()),
      createdAt: Type.String({ format: 'date-time' }),
    }),
  ),
  metrics: Type.Record(Type.String(), Type.Array(nullable(Type.Number())), {
    description: 'metrics[name][i] is the value of runs[i]; null when that run lacks it',
  }),
});

export const AliasMoveView = Type.Object({
  id: Type.Integer(),
  model: Type.String(),
  alias: Type.String(),
  version: nullable(Type.Integer({ description: 'null: the alias was removed' })),
  previousVersion: nullable(Type.Integer()),
  at: Type.String({ format: 'date-time' }),
  by: Type.String(),
  reason: nullable(Type.String()),
});

export const SetAliasView = Type.Object({
  ...AliasMoveView.properties,
  changed: Type.Boolean({ description: 'false when the alias already pointed there' }),
});

export const AliasHistoryView = Type.Object({
  model: Type.String(),
  history: Type.Optional(Type.Array(AliasMoveView)),
  at: Type.Optional(Type.String({ format: 'date-time' })),
  aliases: Type.Optional(Type.Record(Type.String(), Type.Integer(), { description: 'The aliases as they stood `at`' })),
});

export const DeploymentEventView = Type.Object({
  id: Type.String(),
  model: Type.String(),
  environment: Type.String(),
  version: Type.Integer(),
  outcome: Type.String({ description: 'production, staged, rejected, expired, rolled-back, retired…' }),
  endpoint: nullable(Type.String()),
  by: Type.String(),
  decision: anything('The approval decision, if any'),
  status: anything("The deploy's status when the event was recorded"),
  workflowId: Type.String(),
  at: Type.String({ format: 'date-time' }),
});
