import { Type, type Static } from '@sinclair/typebox';

export const modelNamePattern = '^[a-z0-9][a-z0-9._-]{0,62}$';

const TopicPosition = Type.Object(
  {
    offsets: Type.Optional(Type.Record(Type.String({ pattern: '^[0-9]+$' }), Type.Integer({ minimum: 0 }))),
    timestamp: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
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
