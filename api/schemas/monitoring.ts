import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ShadowConfigSchema } from './lifecycle';
import { modelNamePattern } from './names';

const environment = Type.Union([Type.Literal('staging'), Type.Literal('production')], {
  description: 'Where the version serves',
});
const minutes = (description: string, max: number) => Type.Integer({ minimum: 1, maximum: max, description });
const day = 24 * 60;

/** The body of every error answer: the shared ErrorBody (api/schemas/errors.ts). */
export const ErrorResponse = Type.Ref('ErrorBody');

export const ModelParams = Type.Object({ name: Type.String({ pattern: modelNamePattern, description: 'Model name' }) });
export const ReportParams = Type.Object({
  name: Type.String({ pattern: modelNamePattern, description: 'Model name' }),
  id: Type.String({ pattern: '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}$', description: 'Drift report ID' }),
});
export type ReportParams = Static<typeof ReportParams>;

const LiveInput = Type.Object(
  {
    topic: Type.String({
      minLength: 1,
      maxLength: 249,
      pattern: '^[A-Za-z0-9._-]+$',
      description: 'Topic of the live JSON records',
    }),
    eventTimeField: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'Field with the event time (ISO-8601 or epoch ms)',
    }),
  },
  { additionalProperties: false },
);
const Webhook = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2000,
      description: 'https URL (or http to loopback) the alerts are posted to',
    }),
    secretEnv: Type.String({
      minLength: 1,
      maxLength: 128,
      description: "The worker's environment variable holding the HMAC secret",
    }),
  },
  { additionalProperties: false },
);
const FreshData = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('topic'),
      topic: Type.String({
        minLength: 1,
        maxLength: 249,
        pattern: '^[A-Za-z0-9._-]+$',
        description: 'Topic of labelled records',
      }),
      lookbackMinutes: minutes('How far back the replay reaches', 365 * day),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('dataset'),
      path: Type.String({ minLength: 1, maxLength: 4096, description: 'Absolute path of a CSV or Parquet file' }),
    },
    { additionalProperties: false },
  ),
]);
const Retraining = {
  mode: Type.Union([Type.Literal('off'), Type.Literal('on')], {
    description: 'Whether dataset drift starts a retraining lifecycle',
  }),
  data: Type.Optional(FreshData),
  cooldownMinutes: minutes('After a retraining starts, no other for this long', 365 * day),
  shadow: Type.Optional(ShadowConfigSchema),
};

const settingsFields = {
  intervalMinutes: minutes('Minutes between scheduled checks (default 15)', 7 * day),
  paused: Type.Boolean({ description: "Whether the model's drift schedules are paused" }),
  windowMinutes: minutes('Length of the live window a check reads (default 60)', 31 * day),
  minRows: Type.Integer({
    minimum: 1,
    maximum: 1e9,
    description: 'Fewer records give "insufficient data" (default 500)',
  }),
  dedupeMinutes: minutes('The same finding alerts once within this long (default 1 day)', 365 * day),
};

export const MonitoringSettingsView = Type.Object({
  ...settingsFields,
  input: Type.Optional(LiveInput),
  webhook: Type.Optional(Webhook),
  retraining: Type.Object(Retraining),
});

export const PatchMonitoringBody = Type.Object(
  {
    ...Object.fromEntries(Object.entries(settingsFields).map(([k, v]) => [k, Type.Optional(v)])),
    input: Type.Optional(Type.Union([LiveInput, Type.Null()])),
    webhook: Type.Optional(Type.Union([Webhook, Type.Null()])),
    retraining: Type.Optional(Type.Partial(Type.Object(Retraining), { additionalProperties: false })),
  } as Record<string, TSchema>,
  { additionalProperties: false, minProperties: 1 },
);

const ScheduleView = Type.Object({
  id: Type.String(),
  environment,
  exists: Type.Boolean(),
  paused: Type.Optional(Type.Boolean()),
  note: Type.Optional(Type.String()),
  intervalMinutes: Type.Optional(Type.Number()),
  nextRuns: Type.Optional(Type.Array(Type.String())),
  recentRuns: Type.Optional(Type.Array(Type.Object({ scheduledAt: Type.String(), workflowId: Type.String() }))),
});

export const MonitoringView = Type.Object({
  model: Type.String(),
  settings: MonitoringSettingsView,
  updatedAt: Type.Union([Type.String(), Type.Null()]),
  updatedBy: Type.Union([Type.String(), Type.Null()]),
  schedules: Type.Array(ScheduleView),
});

export const DriftCheckBody = Type.Object({ environment: Type.Optional(environment) }, { additionalProperties: false });

export const DriftCheckView = Type.Object({
  id: Type.String({ description: 'Workflow ID of the check' }),
  model: Type.String(),
  environment,
  status: Type.Union([
    Type.Literal('drift'),
    Type.Literal('no_drift'),
    Type.Literal('insufficient_data'),
    Type.Literal('skipped'),
  ]),
  reason: Type.Optional(Type.String()),
  version: Type.Optional(Type.Integer()),
  reportId: Type.Optional(Type.String()),
  rows: Type.Optional(Type.Integer()),
  unreadable: Type.Optional(Type.Integer()),
  driftedFeatures: Type.Optional(Type.Array(Type.String())),
  alerts: Type.Optional(Type.Array(Type.String())),
  retraining: Type.Optional(Type.Object({ workflowId: Type.String(), started: Type.Boolean() })),
  links: Type.Optional(Type.Object({ report: Type.String(), html: Type.String() })),
});

const reportSummaryFields = {
  id: Type.String(),
  model: Type.String(),
  environment: Type.String(),
  version: Type.Integer(),
  status: Type.String(),
  rows: Type.Integer(),
  windowStart: Type.String(),
  windowEnd: Type.String(),
  htmlDigest: Type.String(),
  workflowId: Type.String(),
  createdAt: Type.String(),
};
export const ReportList = Type.Object({ reports: Type.Array(Type.Object(reportSummaryFields)) });
export const ReportView = Type.Object({ ...reportSummaryFields, report: Type.Unknown() });
export const ReportListQuery = Type.Object(
  {
    environment: Type.Optional(environment),
    limit: Type.Optional(
      Type.String({
        pattern: '^[1-9][0-9]{0,2}$',
        description: 'At most this many, newest first (1-999, default 100)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const errors = {
  400: ErrorResponse,
  401: ErrorResponse,
  403: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
  503: ErrorResponse,
} as const;
