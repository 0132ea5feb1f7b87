import { Type, type Static } from '@sinclair/typebox';

const pipelineName = Type.String({
  pattern: '^[a-z][a-z0-9-]{0,62}$',
  description: 'Pipeline name (lowercase letters, digits and "-")',
});
const partName = Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$', description: 'A transform or source name' });

/** Every error answer: the taxonomy's code, one line, and the offending place when there is one. */
/** The body of every error answer: the shared ErrorBody (api/schemas/errors.ts). */
export const ErrorResponse = Type.Ref('ErrorBody');

export const PipelineParams = Type.Object({ name: pipelineName });
export type PipelineParams = Static<typeof PipelineParams>;

export const TransformParams = Type.Object({ name: pipelineName, transform: partName });
export type TransformParams = Static<typeof TransformParams>;

export const IngestParams = Type.Object({ name: pipelineName, source: partName });
export type IngestParams = Static<typeof IngestParams>;

/** A spec as YAML text (`application/yaml`) or the same as a JSON object; validated by core/pipeline. */
export const PipelineBody = Type.Union([
  Type.String({ minLength: 1, description: 'The spec as YAML' }),
  Type.Object({}, { additionalProperties: true, description: 'The spec as JSON' }),
]);

export const ModelChoiceBody = Type.Union(
  [
    Type.Object(
      { environment: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z][a-z0-9-]*$' }) },
      { additionalProperties: false },
    ),
    Type.Object({ version: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
  ],
  { description: 'Score through a deployment (environment) or a version of the same model' },
);
export type ModelChoiceBody = Static<typeof ModelChoiceBody>;

export const IngestBody = Type.Union([
  Type.Array(Type.Unknown(), { description: 'Records as JSON objects' }),
  Type.Object({ records: Type.Array(Type.Unknown()) }, { additionalProperties: false }),
]);

const Partition = Type.Object({
  partition: Type.Integer(),
  committed: Type.Union([Type.String(), Type.Null()]),
  highWatermark: Type.Union([Type.String(), Type.Null()]),
  lag: Type.Union([Type.Number(), Type.Null()]),
});

const Unit = Type.Object(
  {
    kind: Type.String(),
    name: Type.String(),
    replica: Type.Integer(),
    state: Type.String(),
    restarts: Type.Integer(),
    counts: Type.Record(Type.String(), Type.Number()),
    partitions: Type.Array(Partition),
    messagesPerSecond: Type.Number(),
    errors: Type.Number(),
    lastError: Type.Union([Type.String(), Type.Null()]),
    modelVersion: Type.Optional(Type.String()),
    updatedAt: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

export const PipelineStatusResponse = Type.Object(
  {
    id: Type.String(),
    status: Type.String({ description: 'The workflow: RUNNING, COMPLETED, FAILED…' }),
    name: Type.String(),
    state: Type.Optional(Type.String()),
    guarantee: Type.Optional(Type.String()),
    requestedBy: Type.Optional(Type.String()),
    startedAt: Type.Optional(Type.String()),
    runs: Type.Optional(Type.Integer()),
    topics: Type.Optional(Type.Array(Type.String())),
    deadLetterTopic: Type.Optional(Type.String()),
    models: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Object({
          model: Type.String(),
          environment: Type.Optional(Type.String()),
          version: Type.Optional(Type.Integer()),
        }),
      ),
    ),
    transforms: Type.Optional(Type.Array(Unit)),
    sources: Type.Optional(Type.Array(Unit)),
    sinks: Type.Optional(Type.Array(Unit)),
    error: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const PipelineStarted = Type.Object({
  id: Type.String(),
  name: Type.String(),
  runId: Type.String(),
  topics: Type.Array(Type.String()),
  links: Type.Object({ self: Type.String() }),
});

export const PipelineList = Type.Object({
  pipelines: Type.Array(Type.Object({ name: Type.String(), id: Type.String(), startedAt: Type.String() })),
});

const Choice = Type.Object({ environment: Type.Optional(Type.String()), version: Type.Optional(Type.Integer()) });
export const ModelSwapResponse = Type.Object({
  transform: Type.String(),
  previous: Choice,
  current: Choice,
  restarted: Type.Integer(),
});

export const IngestResponse = Type.Object({ topic: Type.String(), accepted: Type.Integer() });

export const errorResponses = {
  400: ErrorResponse,
  401: ErrorResponse,
  403: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
  421: ErrorResponse,
  500: ErrorResponse,
  503: ErrorResponse,
} as const;
