import { FormatRegistry, Type, type Static, type TSchema } from '@sinclair/typebox';
import { fieldTypes } from './fields';

/**
 * The pipeline spec, defined once: these TypeBox schemas give the TypeScript types, the
 * structural validation (validate.ts), and the published JSON Schema (pipeline.schema.json,
 * kept equal to `pipelineJsonSchema()` by a test).
 */
// TypeBox checks formats only once they are registered (the registry is global).
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set(
    'date-time',
    (v) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v) && Number.isFinite(Date.parse(v)),
  );
}

const msg = (errorMessage: string): { errorMessage: string } => ({ errorMessage });

const Name = Type.String({
  pattern: '^[a-z][a-z0-9-]{0,62}$',
  description: 'lowercase letters, digits and "-", starting with a letter, at most 63 characters',
  ...msg('must be lowercase letters, digits and "-", start with a letter and have at most 63 characters'),
});
const TopicName = Type.String({
  pattern: '^[A-Za-z0-9._-]{1,249}$',
  description: 'a Kafka topic name',
  ...msg('must be a Kafka topic name: letters, digits, ".", "_" and "-", at most 249 characters'),
});
const fieldName = (description?: string, extra: Record<string, unknown> = {}): ReturnType<typeof Type.String> =>
  Type.String({
    pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
    ...msg('must be a field name: letters, digits and "_", not starting with a digit'),
    ...(description ? { description } : {}),
    ...extra,
  });
const FieldName = fieldName();
export const durationPattern = '^[0-9]+(ms|s|m|h|d)$';
const Duration = Type.String({
  pattern: durationPattern,
  description: 'e.g. 500ms, 10s, 5m, 1h, 7d',
  ...msg('must be a duration such as 500ms, 10s, 5m, 1h or 7d'),
});
const FieldTypeSchema = Type.Union(
  fieldTypes.map((t) => Type.Literal(t)),
  msg(`must be one of ${fieldTypes.join(', ')}`),
);
const Fields = Type.Record(FieldName, FieldTypeSchema, {
  description: 'field name → type; every field is present in each record, null stands for a missing value',
  ...msg('must map field names (letters, digits, "_") to types'),
});
const Replicas = Type.Integer({ minimum: 1, maximum: 64, default: 1, ...msg('must be an integer from 1 to 64') });

const strict = { additionalProperties: false } as const;

export const TopicSpecSchema = Type.Object(
  {
    name: TopicName,
    partitions: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, default: 1, ...msg('must be an integer from 1 to 1000') }),
    ),
    retention: Type.Optional(
      Type.Union([Duration, Type.Literal('forever')], {
        description: 'how long records are kept',
        ...msg('must be a duration such as 7d, or "forever"'),
      }),
    ),
    external: Type.Optional(Type.Boolean({ description: 'produced outside this pipeline' })),
    fields: Type.Optional(Fields),
  },
  strict,
);

const transformBase = {
  name: Name,
  input: TopicName,
  output: TopicName,
  replicas: Type.Optional(Replicas),
};

export const transformSchemas = {
  filter: Type.Object(
    {
      ...transformBase,
      kind: Type.Literal('filter'),
      where: Type.String({ minLength: 1, description: 'keep records for which this is true' }),
    },
    strict,
  ),
  map: Type.Object(
    {
      ...transformBase,
      kind: Type.Literal('map'),
      rename: Type.Optional(Type.Record(FieldName, FieldName, { description: 'old name → new name' })),
      set: Type.Optional(
        Type.Record(FieldName, Type.String({ minLength: 1 }), { description: 'field → expression over the input' }),
      ),
      drop: Type.Optional(Type.Array(FieldName, { uniqueItems: true })),
    },
    strict,
  ),
  project: Type.Object(
    {
      ...transformBase,
      kind: Type.Literal('project'),
      fields: Type.Union(
        [
          Type.Array(FieldName, { minItems: 1, uniqueItems: true }),
          Type.Record(FieldName, Type.String({ minLength: 1 }), { minProperties: 1 }),
        ],
        msg('must list the fields to keep, or map output fields to expressions'),
      ),
    },
    strict,
  ),
  window: Type.Object(
    {
      ...transformBase,
      kind: Type.Literal('window'),
      key: FieldName,
      time: Type.Optional(fieldName('event-time field (ISO 8601 text or epoch ms); default: the record timestamp')),
      window: Type.Object(
        {
          type: Type.Union([Type.Literal('tumbling'), Type.Literal('hopping')], msg('must be "tumbling" or "hopping"')),
          size: Duration,
          advance: Type.Optional(Duration),
          grace: Type.Optional(Duration),
        },
        strict,
      ),
      aggregates: Type.Record(
        FieldName,
        Type.Object(
          {
            op: Type.Union(
              ['count', 'sum', 'mean', 'min', 'max', 'last'].map((o) => Type.Literal(o)),
              msg('must be one of count, sum, mean, min, max, last'),
            ),
            field: Type.Optional(FieldName),
          },
          strict,
        ),
        { minProperties: 1, ...msg('must map output fields to {op, field}') },
      ),
    },
    strict,
  ),
  model: Type.Object(
    {
      ...transformBase,
      kind: Type.Literal('model'),
      model: Type.String({ minLength: 1, description: 'the registered model name' }),
      environment: Type.Optional(
        Type.String({ minLength: 1, description: 'score through this deployment of the model' }),
      ),
      version: Type.Optional(Type.Integer({ minimum: 1, description: 'or serve this version' })),
      batchSize: Type.Optional(
        Type.Integer({ minimum: 1, maximum: 100_000, default: 5000, description: 'rows per inference request' }),
      ),
      prediction: Type.Optional(fieldName('output field of the prediction', { default: 'prediction' })),
      probability: Type.Optional(
        fieldName('output field of the positive class probability', { default: 'probability' }),
      ),
    },
    strict,
  ),
} satisfies Record<string, TSchema>;

export type TransformKind = keyof typeof transformSchemas;
export const transformKinds = Object.keys(transformSchemas) as TransformKind[];

const sourceBase = { name: Name, topic: TopicName, key: Type.Optional(fieldName('field used as the record key')) };

export const sourceSchemas = {
  file: Type.Object(
    {
      ...sourceBase,
      kind: Type.Literal('file'),
      path: Type.String({ minLength: 1 }),
      format: Type.Optional(Type.Union([Type.Literal('csv'), Type.Literal('jsonl')], msg('must be "csv" or "jsonl"'))),
      speed: Type.Optional(
        Type.Number({ minimum: 0, description: 'replay speed factor over the time field; 0 = as fast as possible' }),
      ),
      time: Type.Optional(fieldName('event-time field that paces the replay')),
      fields: Fields,
    },
    strict,
  ),
  http: Type.Object(
    {
      ...sourceBase,
      kind: Type.Literal('http'),
      fields: Fields,
      maxRecords: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    },
    strict,
  ),
  mqtt: Type.Object(
    {
      ...sourceBase,
      kind: Type.Literal('mqtt'),
      url: Type.String({ pattern: '^mqtts?://', ...msg('must be an mqtt:// or mqtts:// URL') }),
      topics: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
      qos: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)], msg('must be 0, 1 or 2'))),
      fields: Fields,
    },
    strict,
  ),
  sensors: Type.Object(
    {
      ...sourceBase,
      kind: Type.Literal('sensors'),
      rate: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'readings per second' })),
      count: Type.Optional(Type.Integer({ minimum: 0 })),
      seed: Type.Optional(Type.Integer()),
      machines: Type.Optional(Type.Integer({ minimum: 1 })),
      start: Type.Optional(
        Type.String({
          format: 'date-time',
          description: 'event time of the first reading; default: now',
          ...msg('must be an ISO 8601 date-time'),
        }),
      ),
      interval: Type.Optional(Duration),
    },
    strict,
  ),
} satisfies Record<string, TSchema>;

export type SourceKind = keyof typeof sourceSchemas;
export const sourceKinds = Object.keys(sourceSchemas) as SourceKind[];

const sinkBase = { name: Name, topic: TopicName };

export const sinkSchemas = {
  postgres: Type.Object(
    {
      ...sinkBase,
      kind: Type.Literal('postgres'),
      table: Type.String({
        pattern: '^[a-z_][a-z0-9_]{0,62}$',
        ...msg('must be a lowercase SQL name: letters, digits and "_"'),
      }),
      key: Type.Array(FieldName, {
        minItems: 1,
        uniqueItems: true,
        description: 'upsert key: a replay writes no duplicate row',
      }),
      columns: Type.Optional(Type.Array(FieldName, { minItems: 1, uniqueItems: true })),
      url: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
    },
    strict,
  ),
  webhook: Type.Object(
    {
      ...sinkBase,
      kind: Type.Literal('webhook'),
      url: Type.String({ pattern: '^https?://', ...msg('must be an http:// or https:// URL') }),
      secretEnv: Type.String({
        pattern: '^[A-Z_][A-Z0-9_]*$',
        description: 'environment variable holding the HMAC-SHA256 key',
      }),
      timeout: Type.Optional(Duration),
    },
    strict,
  ),
  jsonl: Type.Object({ ...sinkBase, kind: Type.Literal('jsonl'), path: Type.String({ minLength: 1 }) }, strict),
} satisfies Record<string, TSchema>;

export type SinkKind = keyof typeof sinkSchemas;
export const sinkKinds = Object.keys(sinkSchemas) as SinkKind[];

export const guarantees = ['at-least-once', 'exactly-once'] as const;
export type Guarantee = (typeof guarantees)[number];

/** The top level, with transforms, sources and sinks as objects checked by kind afterwards. */
export const PipelineEnvelopeSchema = Type.Object(
  {
    name: Name,
    description: Type.Optional(Type.String()),
    guarantee: Type.Optional(
      Type.Union(
        guarantees.map((g) => Type.Literal(g)),
        msg(`must be one of ${guarantees.join(', ')}`),
      ),
    ),
    deadLetterTopic: Type.Optional(TopicName),
    topics: Type.Array(Type.Unknown(), { minItems: 1 }),
    sources: Type.Optional(Type.Array(Type.Unknown())),
    transforms: Type.Array(Type.Unknown(), { minItems: 1 }),
    sinks: Type.Optional(Type.Array(Type.Unknown())),
  },
  strict,
);

export type TopicSpec = Static<typeof TopicSpecSchema>;
export type FilterTransform = Static<(typeof transformSchemas)['filter']>;
export type MapTransform = Static<(typeof transformSchemas)['map']>;
export type ProjectTransform = Static<(typeof transformSchemas)['project']>;
export type WindowTransform = Static<(typeof transformSchemas)['window']>;
export type ModelTransform = Static<(typeof transformSchemas)['model']>;
export type TransformSpec = FilterTransform | MapTransform | ProjectTransform | WindowTransform | ModelTransform;
export type FileSource = Static<(typeof sourceSchemas)['file']>;
export type HttpSource = Static<(typeof sourceSchemas)['http']>;
export type MqttSource = Static<(typeof sourceSchemas)['mqtt']>;
export type SensorSource = Static<(typeof sourceSchemas)['sensors']>;
export type SourceSpec = FileSource | HttpSource | MqttSource | SensorSource;
export type PostgresSink = Static<(typeof sinkSchemas)['postgres']>;
export type WebhookSink = Static<(typeof sinkSchemas)['webhook']>;
export type JsonlSink = Static<(typeof sinkSchemas)['jsonl']>;
export type SinkSpec = PostgresSink | WebhookSink | JsonlSink;

export interface PipelineSpec {
  name: string;
  description?: string;
  guarantee?: Guarantee;
  deadLetterTopic?: string;
  topics: TopicSpec[];
  sources?: SourceSpec[];
  transforms: TransformSpec[];
  sinks?: SinkSpec[];
}

/** The JSON Schema of a whole spec, as published in pipeline.schema.json. */
export function pipelineJsonSchema(): Record<string, unknown> {
  const oneOfKinds = (schemas: Record<string, TSchema>): unknown => ({ oneOf: Object.values(schemas) });
  const strip = (x: unknown): unknown => JSON.parse(JSON.stringify(x)) as unknown;
  return strip({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://mloop.dev/schemas/pipeline.schema.json',
    title: 'mloop pipeline',
    description: 'Transforms connected by Kafka topics, fed by sources and drained by sinks.',
    ...PipelineEnvelopeSchema,
    properties: {
      ...PipelineEnvelopeSchema.properties,
      topics: { type: 'array', minItems: 1, items: TopicSpecSchema },
      sources: { type: 'array', items: oneOfKinds(sourceSchemas) },
      transforms: { type: 'array', minItems: 1, items: oneOfKinds(transformSchemas) },
      sinks: { type: 'array', items: oneOfKinds(sinkSchemas) },
    },
  }) as Record<string, unknown>;
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** '10s' → 10000. The spec's schema guarantees the form. */
export function durationMs(text: string): number {
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * (durationUnits[m[2] as string] as number);
}

export const defaultDeadLetterTopic = (pipeline: string): string => `${pipeline}.dead-letter`;
