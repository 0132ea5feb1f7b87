import { parseJson, type RegistryContext } from './context';
import { MloopError } from '../errors';
import type { DriftReportsTable } from './schema';

export interface NewDriftReport {
  /** Idempotency key; recording it again returns the first row. */
  id: string;
  model: string;
  environment: string;
  version: number;
  status: string;
  rows: number;
  windowStart: string;
  windowEnd: string;
  /** The report document (core/monitoring/drift-report.ts), with the check's own figures. */
  report: unknown;
  htmlDigest: string;
  workflowId: string;
}

export interface StoredDriftReport extends NewDriftReport {
  createdAt: string;
}

export type DriftReportSummary = Omit<StoredDriftReport, 'report'>;

export async function recordDriftReport(ctx: RegistryContext, r: NewDriftReport): Promise<StoredDriftReport> {
  await ctx.db
    .insertInto('drift_reports')
    .values({
      id: r.id,
      model: r.model,
      environment: r.environment,
      version: r.version,
      status: r.status,
      rows: r.rows,
      window_start: r.windowStart,
      window_end: r.windowEnd,
      report_json: JSON.stringify(r.report),
      html_digest: r.htmlDigest,
      workflow_id: r.workflowId,
      created_at: ctx.now().toISOString(),
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  return getDriftReport(ctx, r.model, r.id);
}

export async function getDriftReport(ctx: RegistryContext, model: string, id: string): Promise<StoredDriftReport> {
  const row = await ctx.db
    .selectFrom('drift_reports')
    .selectAll()
    .where('id', '=', id)
    .where('model', '=', model)
    .executeTakeFirst();
  if (!row) throw new MloopError('NotFound', `model "${model}" has no drift report "${id}"`);
  return { ...summary(row), report: parseJson<unknown>(row.report_json) };
}

/** A model's reports, newest first, optionally of one environment. */
export async function listDriftReports(
  ctx: RegistryContext,
  model: string,
  opts: { environment?: string; limit?: number } = {},
): Promise<DriftReportSummary[]> {
  let q = ctx.db
    .selectFrom('drift_reports')
    .select([
      'id',
      'model',
      'environment',
      'version',
      'status',
      'rows',
      'window_start',
      'window_end',
      'html_digest',
      'workflow_id',
      'created_at',
    ])
    .where('model', '=', model);
  if (opts.environment) q = q.where('environment', '=', opts.environment);
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(opts.limit ?? 100)
    .execute();
  return rows.map(summary);
}

function summary(row: Omit<DriftReportsTable, 'report_json'>): DriftReportSummary {
  return {
    id: row.id,
    model: row.model,
    environment: row.environment,
    version: row.version,
    status: row.status,
    rows: row.rows,
    windowStart: row.window_start,
    windowEnd: row.window_end,
    htmlDigest: row.html_digest,
    workflowId: row.workflow_id,
    createdAt: row.created_at,
  };
}
