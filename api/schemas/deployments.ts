import { Type, type Static } from '@sinclair/typebox';
import { aliasPattern } from '../../core/registry/registry';
import { modelNamePattern } from './names';
import { DeploymentEventView } from './registry-views';

const modelName = Type.String({ pattern: modelNamePattern, description: 'Model name' });
const environment = Type.Union([Type.Literal('staging'), Type.Literal('production')], {
  description: 'Where the version serves',
});
const idempotencyKey = Type.String({
  pattern: '^[A-Za-z0-9._-]{1,64}$',
  description: 'Names the deploy (deploy/<model>/<env>/<key>); the Idempotency-Key header when absent, else random',
});

/** Everything a deploy can be told; each field has a default. */
export const DeploySettings = Type.Object(
  {
    backend: Type.Optional(
      Type.Union([Type.Literal('process'), Type.Literal('docker')], {
        description: 'Model servers as local processes (default) or containers',
      }),
    ),
    resources: Type.Optional(
      Type.Object(
        {
          replicas: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 16, description: 'Servers per release (default 1)' }),
          ),
          cpus: Type.Optional(
            Type.Number({ exclusiveMinimum: 0, maximum: 64, description: 'CPUs per server (default 1)' }),
          ),
          memoryMb: Type.Optional(
            Type.Integer({ minimum: 64, maximum: 262144, description: 'Memory per server in MiB (default 1024)' }),
          ),
          healthTimeoutSeconds: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 3600,
              description: 'Time a new server has to get ready (default 120)',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    promotion: Type.Optional(
      Type.Object(
        {
          timeoutSeconds: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 90 * 24 * 3600,
              description: 'How long the approval waits (default 7 days)',
            }),
          ),
          allowSelfApproval: Type.Optional(
            Type.Boolean({ description: 'Whether who started the deploy may approve it (default false)' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const LifecycleDeploy = Type.Object(
  { environment: Type.Optional(environment), ...DeploySettings.properties },
  {
    additionalProperties: false,
    description: 'Go on into the deploy stage after the candidate passed: staging, an approval, then production',
  },
);

export const StartDeploymentBody = Type.Object(
  {
    model: modelName,
    version: Type.Optional(Type.Integer({ minimum: 1, description: 'The version to deploy' })),
    alias: Type.Optional(
      Type.String({ pattern: aliasPattern.source, description: 'Or the version an alias names, e.g. "challenger"' }),
    ),
    environment,
    ...DeploySettings.properties,
    key: Type.Optional(idempotencyKey),
  },
  { additionalProperties: false },
);
export type StartDeploymentBody = Static<typeof StartDeploymentBody>;

export const DeploymentParams = Type.Object({ model: modelName, env: environment });
export type DeploymentParams = Static<typeof DeploymentParams>;

export const DeployRunParams = Type.Object({ model: modelName, env: environment, key: idempotencyKey });
export type DeployRunParams = Static<typeof DeployRunParams>;

export const DecisionBody = Type.Object(
  {
    comment: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'Why; kept with the decision' })),
  },
  { additionalProperties: false },
);
export type DecisionBody = Static<typeof DecisionBody>;

export const RollbackBody = Type.Object(
  {
    environment: Type.Optional(Type.Literal('production')),
    reason: Type.String({
      minLength: 1,
      maxLength: 1000,
      description: 'Why production goes back; kept in the alias history',
    }),
    ...DeploySettings.properties,
  },
  { additionalProperties: false },
);
export type RollbackBody = Static<typeof RollbackBody>;

export const RetireQuery = Type.Object(
  { reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'Why, for the audit' })) },
  { additionalProperties: false },
);

export const DecisionView = Type.Object({
  approved: Type.Boolean(),
  by: Type.String({ description: "Who decided (the token's subject)" }),
  comment: Type.Optional(Type.String()),
  at: Type.String({ format: 'date-time' }),
});

export const DeployStartedView = Type.Object({
  id: Type.String({ description: 'Workflow ID: deploy/<model>/<environment>/<key>' }),
  runId: Type.String(),
  links: Type.Object({ self: Type.String() }),
});

export const RollbackStartedView = Type.Object({
  from: Type.Integer({ description: 'The champion rolled back from' }),
  to: Type.Integer({ description: 'The previous champion production goes back to' }),
  ...DeployStartedView.properties,
});

export const DeploymentsView = Type.Object({ deployments: Type.Array(DeploymentEventView) });

export const EnvironmentView = Type.Object({
  model: Type.String(),
  environment: Type.String(),
  current: Type.Union([DeploymentEventView, Type.Null()], { description: 'What it serves now' }),
  events: Type.Array(DeploymentEventView, { description: 'The deployment audit, oldest first' }),
});

export const RetiredView = Type.Object({ model: Type.String(), environment: Type.String(), retired: Type.Integer() });

/** A deploy's state: the workflow's status, then its phase, endpoints and approval, or its result. */
export const DeployView = Type.Object(
  {
    id: Type.String(),
    runId: Type.String(),
    status: Type.String({ description: 'Temporal status: RUNNING, COMPLETED, FAILED…' }),
    startedAt: Type.String({ format: 'date-time' }),
    model: Type.Optional(Type.String()),
    environment: Type.Optional(Type.String()),
    version: Type.Optional(Type.Integer()),
    phase: Type.Optional(Type.String()),
    outcome: Type.Optional(Type.String({ description: 'production, staged, rejected, expired or rolled-back' })),
    requestedBy: Type.Optional(Type.String()),
    endpoints: Type.Optional(Type.Record(Type.String(), Type.String())),
    approval: Type.Optional(Type.Unknown({ description: 'Deadline, what blocks it, and the decision' })),
    previousVersion: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    error: Type.Optional(Type.String()),
    errorType: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
