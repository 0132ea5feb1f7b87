import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { FindingSchema } from './alerts';

/**
 * The drift report the runtime's `drift` command writes (`report.json`, format
 * `mloop.drift-report/1`, described in python/README.md). Field names are the document's own
 * (snake_case), so the API can serve a stored report as it is.
 */
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Count = Type.Integer({ minimum: 0 });
const Share = Type.Number({ minimum: 0, maximum: 1 });

export const statTests = ['ks', 'chisquare', 'z', 'wasserstein', 'jensenshannon', 'psi'] as const;
export type StatTest = (typeof statTests)[number];

/** Per column: tested (`drift`, `no_drift`) or why not. */
export const columnStatuses = [
  'drift',
  'no_drift',
  'insufficient_data',
  'missing_column',
  'no_reference',
  'undefined',
] as const;
export type ColumnStatus = (typeof columnStatuses)[number];

const literals = <T extends readonly string[]>(values: T) => Type.Union(values.map((v) => Type.Literal(v)));

const NumericSummary = Type.Object({
  count: Count,
  nulls: Count,
  non_finite: Count,
  invalid: Count,
  mean: Nullable(Type.Number()),
  std: Nullable(Type.Number()),
  min: Nullable(Type.Number()),
  max: Nullable(Type.Number()),
  quantiles: Nullable(Type.Record(Type.String(), Nullable(Type.Number()))),
  distinct: Count,
});

const CategorySummary = Type.Object({
  count: Count,
  nulls: Count,
  distinct: Count,
  frequencies: Type.Record(Type.String(), Count),
  other: Count,
});

const Chart = Type.Union([
  Type.Object({
    type: Type.Literal('histogram'),
    edges: Type.Array(Type.Number()),
    reference: Type.Array(Share),
    current: Type.Array(Share),
  }),
  Type.Object({
    type: Type.Literal('bars'),
    labels: Type.Array(Type.String()),
    reference: Type.Array(Share),
    current: Type.Array(Share),
  }),
]);

const columnFields = {
  name: Type.String(),
  type: literals(['number', 'integer', 'string'] as const),
  kind: literals(['numerical', 'categorical'] as const),
  status: literals(columnStatuses),
  drift: Nullable(Type.Boolean()),
  test: Nullable(literals(statTests)),
  test_name: Nullable(Type.String()),
  /** The p-value or distance; null without a verdict. Never NaN. */
  score: Nullable(Type.Number()),
  statistic: Nullable(Type.Number()),
  threshold: Nullable(Type.Number()),
  reason: Nullable(Type.String()),
  /** Summary of the training rows (features) or holdout outputs. */
  reference: Type.Union([NumericSummary, CategorySummary]),
  current: Nullable(Type.Union([NumericSummary, CategorySummary])),
  /** Values each side's test used: the reference sample's and the window's, after dropping unusable ones. */
  reference_values: Nullable(Count),
  current_values: Nullable(Count),
  chart: Nullable(Chart),
};

export const ColumnResultSchema = Type.Object(columnFields);
export type ColumnResult = Static<typeof ColumnResultSchema>;

export const OutputResultSchema = Type.Object({ ...columnFields, column: Type.String() });
export type OutputResult = Static<typeof OutputResultSchema>;

const Override = Type.Object(
  { test: Type.Optional(literals(statTests)), threshold: Type.Optional(Type.Number({ exclusiveMinimum: 0 })) },
  { additionalProperties: false },
);

const tolerances = {
  null_spike: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
  prediction_out_of_range: Share,
  class_mix: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
};

/** The settings a check ran with: the manifest's `monitoring` section merged with the check's options. */
export const MonitoringSettingsSchema = Type.Object({
  min_rows: Type.Integer({ minimum: 1 }),
  drift_share: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
  sample_rows: Type.Integer({ minimum: 100 }),
  features: Type.Record(Type.String(), Override),
  predictions: Type.Record(Type.String(), Override),
  unexpected: Type.Object(tolerances),
});
export type MonitoringSettings = Static<typeof MonitoringSettingsSchema>;

/** What a check may override (`--options`): any top-level setting; a given one replaces the profile's. */
export const MonitoringOverridesSchema = Type.Partial(
  Type.Object({
    ...MonitoringSettingsSchema.properties,
    unexpected: Type.Partial(Type.Object(tolerances, { additionalProperties: false })),
  }),
  { additionalProperties: false },
);
export type MonitoringOverrides = Static<typeof MonitoringOverridesSchema>;

export const DatasetVerdictSchema = Type.Object({
  status: literals(['drift', 'no_drift', 'insufficient_data'] as const),
  drift: Nullable(Type.Boolean()),
  share: Nullable(Share),
  drift_share: Type.Number(),
  drifted_features: Count,
  tested_features: Count,
  features: Count,
});

const reportFormat = 'mloop.drift-report/1';

export const DriftReportSchema = Type.Object({
  format: Type.Literal(reportFormat),
  model: Type.String(),
  task: Type.String(),
  status: literals(['drift', 'no_drift', 'insufficient_data'] as const),
  dataset_drift: DatasetVerdictSchema,
  prediction_drift: Type.Boolean(),
  window: Type.Object({ file: Type.String(), rows: Count }),
  reference: Type.Object({ training_rows: Count, holdout_rows: Count }),
  features: Type.Array(ColumnResultSchema),
  outputs: Type.Array(OutputResultSchema),
  findings: Type.Array(FindingSchema),
  options: MonitoringSettingsSchema,
});
export type DriftReport = Static<typeof DriftReportSchema>;

/** Checks a parsed `report.json`; `source` names it in the error. */
export function parseDriftReport(value: unknown, source: string): DriftReport {
  const unknown = 'not a drift report this engine understands';
  const format = typeof value === 'object' && value !== null ? (value as { format?: unknown }).format : undefined;
  if (format !== reportFormat) {
    const found = JSON.stringify(format);
    throw new Error(`${source}: ${unknown}: format ${found}, expected "${reportFormat}"`);
  }
  if (Value.Check(DriftReportSchema, value)) return value;
  const first = Value.Errors(DriftReportSchema, value).First();
  const where = first?.path || '/';
  throw new Error(`${source}: ${unknown}: ${where}: ${first?.message ?? 'invalid'}`);
}
