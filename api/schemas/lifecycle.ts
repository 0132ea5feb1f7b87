import { Type, type Static } from '@sinclair/typebox';
import { LifecycleDeploy } from './deployments';

export { modelNamePattern } from './names';
import { modelNamePattern } from './names';

const TopicPosition = Type.Object(
  {
    offsets: Type.Optional(Type.Record(Type.String({ pattern: '^[0-9]+$' }), Type.Integer({ minimum: 0 }))),
    timestamp: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

const topicName = Type.String({ pattern: '^[A-Za-z0-9._-]{1,249}$' });
const modelLimit = Type.Union([
  Type.Number({ minimum: 0 }),
  Type.Object(
    { candidate: Type.Optional(Type.Number({ minimum: 0 })), champion: Type.Optional(Type.Number({ minimum: 0 })) },
    { additionalProperties: false },
  ),
]);

export const ShadowConfigSchema = Type.Object(
  {
    inputTopic: topicName,
    labelsTopic: Type.Optional(topicName),
    labelField: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    startAt: Type.Optional(Type.Union([Type.Literal('latest'), Type.Literal('earliest'), TopicPosition])),
    stopAfter: Type.Object(
      {
        messages: Type.Optional(Type.Integer({ minimum: 1 })),
        seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 * 24 * 3600 })),
      },
      { additionalProperties: false, minProperties: 1 },
    ),
    thresholds: Type.Object(
      {
        minMessages: Type.Optional(Type.Integer({ minimum: 0 })),
        minAgreement: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
        maxMeanAbsDiff: Type.Optional(Type.Number({ minimum: 0 })),
        maxFailureRate: Type.Optional(modelLimit),
        maxP99LatencyMs: Type.Optional(modelLimit),
        maxErrorIncrease: Type.Optional(
          Type.Object(
            {
              max: Type.Number({ minimum: 0 }),
              metric: Type.Optional(Type.String()),
              minLabelled: Type.Optional(Type.Integer({ minimum: 1 })),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    labelWindowSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  {
    additionalProperties: false,
    description: 'Shadow-test the trained candidate on a live topic before the lifecycle ends',
  },
);

export const StartLifecycleBody = Type.Object(
  {
    model: Type.String({
      pattern: modelNamePattern,
      description: 'Model name: lowercase letters, digits, ".", "_" and "-"',
    }),
    repo: Type.Object(
      {
        url: Type.String({
          minLength: 1,
          maxLength: 2048,
          description: 'Absolute path, file://, https:// or ssh:// URL of the git repository',
        }),
        ref: Type.String({ minLength: 1, maxLength: 255, default: 'HEAD', description: 'Branch, tag or commit SHA' }),
        path: Type.Optional(Type.String({ maxLength: 1024, description: 'Folder of the model inside the repository' })),
      },
      { additionalProperties: false },
    ),
    dataset: Type.Union(
      [
        Type.Object(
          {
            path: Type.String({ minLength: 1, maxLength: 4096, description: 'Absolute path of a CSV or Parquet file' }),
          },
          { additionalProperties: false },
        ),
        Type.Object(
          {
            kafka: Type.Object(
              {
                topic: Type.String({ pattern: '^[A-Za-z0-9._-]{1,249}$' }),
                from: Type.Optional(TopicPosition),
                to: Type.Optional(TopicPosition),
              },
              { additionalProperties: false },
            ),
          },
          { additionalProperties: false },
        ),
      ],
      { description: 'A file, or a Kafka topic range replayed into a snapshot' },
    ),
    holdout: Type.Optional(
      Type.Object(
        {
          seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
          fraction: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    trainTimeoutMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 * 60 })),
    shadow: Type.Optional(ShadowConfigSchema),
    deploy: Type.Optional(LifecycleDeploy),
    params: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'Training parameters, merged over the manifest defaults',
      }),
    ),
    key: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9._-]{1,64}$',
        description:
          'Names the lifecycle (lifecycle/<model>/<key>); the Idempotency-Key header when absent, else random',
      }),
    ),
  },
  { additionalProperties: false },
);
export type StartLifecycleBody = Static<typeof StartLifecycleBody>;

export const AbortLifecycleBody = Type.Object(
  {
    reason: Type.String({
      minLength: 1,
      maxLength: 1000,
      description: 'Why the lifecycle is stopped; kept in its status',
    }),
  },
  { additionalProperties: false },
);

const lifecycleKey = Type.String({
  pattern: '^[A-Za-z0-9._-]{1,64}$',
  description: "The lifecycle's key: its ID is lifecycle/<model>/<key>",
});

/** `/v1/lifecycles/:model/:key`: a lifecycle named by its resource, not by its workflow ID. */
export const LifecycleParams = Type.Object({
  model: Type.String({ pattern: modelNamePattern, description: 'Model name' }),
  key: lifecycleKey,
});
export type LifecycleParams = Static<typeof LifecycleParams>;

export const LifecycleStartedView = Type.Object({
  id: Type.String({ description: 'Workflow ID: lifecycle/<model>/<key>' }),
  runId: Type.String({ description: 'Temporal run ID of its first run' }),
  links: Type.Object({
    self: Type.String({ description: 'This lifecycle in the API' }),
    webUi: Type.String({ description: 'Its history in the Temporal Web UI' }),
  }),
});

const passedThrough = (description: string) => Type.Optional(Type.Unknown({ description }));

/** A lifecycle's state: the workflow's status, its stage and live figures, then its result or error. */
export const LifecycleView = Type.Object(
  {
    id: Type.String(),
    runId: Type.String(),
    status: Type.String({ description: 'Temporal status: RUNNING, COMPLETED, FAILED, TERMINATED…' }),
    startedAt: Type.String({ format: 'date-time' }),
    closedAt: Type.Optional(Type.String({ format: 'date-time' })),
    links: Type.Object({ self: Type.String(), webUi: Type.String() }),
    model: Type.Optional(Type.String()),
    stage: Type.Optional(Type.String({ description: 'train, shadow, a deploy phase, done, aborted or failed' })),
    commitSha: Type.Optional(Type.String()),
    version: Type.Optional(Type.Integer()),
    metrics: Type.Optional(Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()]))),
    log: Type.Optional(Type.Array(Type.String(), { description: 'The last lines the model code printed' })),
    error: Type.Optional(Type.String({ description: 'One line of the failure, never a traceback' })),
    errorType: Type.Optional(Type.String({ description: 'The error code of the failure' })),
    progress: passedThrough('Training progress'),
    shadow: passedThrough('Live figures of a running shadow test'),
    deploy: passedThrough('The deploy stage: phase, endpoints, approval deadline and decision'),
    train: passedThrough('The training result'),
    shadowTest: passedThrough('The shadow test result'),
    deployment: passedThrough('The deploy result'),
  },
  // Fields the workflow adds later still reach the client.
  { additionalProperties: true },
);

export const AbortedView = Type.Object({ id: Type.String(), aborting: Type.Literal(true) });
