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
const modelLimit = Type.Union([Type.Number({ minimum: 0 }), Type.Object({ candidate: Type.Optional(Type.Number({ minimum: 0 })), champion: Type.Optional(Type.Number({ minimum: 0 })) }, { additionalProperties: false })]);

const ShadowConfigSchema = Type.Object(
  {
    inputTopic: topicName,
    labelsTopic: Type.Optional(topicName),
    labelField: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    startAt: Type.Optional(Type.Union([Type.Literal('latest'), Type.Literal('earliest'), TopicPosition])),
    stopAfter: Type.Object(
      { messages: Type.Optional(Type.Integer({ minimum: 1 })), seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 * 24 * 3600 })) },
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
          Type.Object({ max: Type.Number({ minimum: 0 }), metric: Type.Optional(Type.String()), minLabelled: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }),
        ),
      },
      { additionalProperties: false },
    ),
    labelWindowSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false, description: 'Shadow-test the trained candidate on a live topic before the lifecycle ends' },
);

export const StartLifecycleBody = Type.Object(
  {
    model: Type.String({ pattern: modelNamePattern, description: 'Model name: lowercase letters, digits, ".", "_" and "-"' }),
    repo: Type.Object(
      {
        url: Type.String({ minLength: 1, maxLength: 2048, description: 'Absolute path, file://, https:// or ssh:// URL of the git repository' }),
        ref: Type.String({ minLength: 1, maxLength: 255, default: 'HEAD', description: 'Branch, tag or commit SHA' }),
        path: Type.Optional(Type.String({ maxLength: 1024, description: 'Folder of the model inside the repository' })),
      },
      { additionalProperties: false },
    ),
    dataset: Type.Union(
      [
        Type.Object({ path: Type.String({ minLength: 1, maxLength: 4096, description: 'Absolute path of a CSV or Parquet file' }) }, { additionalProperties: false }),
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
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Training parameters, merged over the manifest defaults' })),
    key: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'Idempotency key: the same key starts the same lifecycle once' }),
    ),
  },
  { additionalProperties: false },
);
export type StartLifecycleBody = Static<typeof StartLifecycleBody>;

export const AbortLifecycleBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 1000, description: 'Why the lifecycle is stopped; kept in its status' }) },
  { additionalProperties: false },
);
