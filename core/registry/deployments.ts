import { parseJson, type RegistryContext } from './context';
import type { DeploymentEventsTable } from './schema';

export interface NewDeploymentEvent {
  /** Idempotency key; recording it again returns the first row. */
  key: string;
  model: string;
  environment: string;
  version: number;
  outcome: string;
  endpoint: string | null;
  by: string;
  decision: unknown;
  status: unknown;
  workflowId: string;
}

export interface DeploymentEvent extends Omit<NewDeploymentEvent, 'key'> {
  id: string;
  at: string;
}

/** Outcomes after which the environment serves the event's version. */
const serving = new Set(['production', 'staged']);

export async function recordDeploymentEvent(ctx: RegistryContext, e: NewDeploymentEvent): Promise<DeploymentEvent> {
  await ctx.db
    .insertInto('deployment_events')
    .values({
      id: e.key,
      model: e.model,
      environment: e.environment,
      version: e.version,
      outcome: e.outcome,
      endpoint: e.endpoint,
      by: e.by,
      decision_json: e.decision === undefined || e.decision === null ? null : JSON.stringify(e.decision),
      status_json: JSON.stringify(e.status),
      workflow_id: e.workflowId,
      at: ctx.now().toISOString(),
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  const row = await ctx.db
    .selectFrom('deployment_events')
    .selectAll()
    .where('id', '=', e.key)
    .executeTakeFirstOrThrow();
  return toEvent(row);
}

/** Every deploy event of a model (optionally one environment), oldest first: the deployment audit. */
export async function listDeploymentEvents(
  ctx: RegistryContext,
  model: string,
  environment?: string,
): Promise<DeploymentEvent[]> {
  let q = ctx.db.selectFrom('deployment_events').selectAll().where('model', '=', model);
  if (environment) q = q.where('environment', '=', environment);
  const rows = await q.orderBy('at').orderBy('id').execute();
  return rows.map(toEvent);
}

/**
 * What each environment of a model serves now, by its latest event that changed it: a serving
 * outcome names the version; a retirement ends it. Rejections and rollbacks change nothing.
 */
export async function currentDeployments(ctx: RegistryContext, model?: string): Promise<DeploymentEvent[]> {
  let q = ctx.db
    .selectFrom('deployment_events')
    .selectAll()
    .where('outcome', 'in', [...serving, 'retired']);
  if (model) q = q.where('model', '=', model);
  const rows = await q.orderBy('at').orderBy('id').execute();
  const latest = new Map<string, DeploymentEvent>();
  for (const row of rows) latest.set(`${row.model}\u0000${row.environment}`, toEvent(row));
  return [...latest.values()].filter((e) => serving.has(e.outcome));
}

function toEvent(row: DeploymentEventsTable): DeploymentEvent {
  return {
    id: row.id,
    model: row.model,
    environment: row.environment,
    version: row.version,
    outcome: row.outcome,
    endpoint: row.endpoint,
    by: row.by,
    decision: row.decision_json === null ? null : parseJson<unknown>(row.decision_json),
    status: parseJson<unknown>(row.status_json),
    workflowId: row.workflow_id,
    at: row.at,
  };
}
