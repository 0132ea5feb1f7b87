import { parseJson, type RegistryContext } from './context';

export interface NewShadowReport {
  /** Idempotency key; recording it again returns the first row. */
  key: string;
  model: string;
  version: number;
  lifecycleId: string;
  passed: boolean;
  reasons: string[];
  /** The shadow test's final report (see core/shadow/report.ts). */
  report: unknown;
}

export interface StoredShadowReport extends Omit<NewShadowReport, 'key'> {
  id: string;
  createdAt: string;
}

export async function recordShadowReport(ctx: RegistryContext, r: NewShadowReport): Promise<StoredShadowReport> {
  await ctx.db
    .insertInto('shadow_reports')
    .values({
      id: r.key,
      model: r.model,
      version: r.version,
      lifecycle_id: r.lifecycleId,
      passed: r.passed ? 1 : 0,
      reasons_json: JSON.stringify(r.reasons),
      report_json: JSON.stringify(r.report),
      created_at: ctx.now().toISOString(),
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  const row = await ctx.db.selectFrom('shadow_reports').selectAll().where('id', '=', r.key).executeTakeFirstOrThrow();
  return toStored(row);
}

export async function listShadowReports(
  ctx: RegistryContext,
  model: string,
  version: number,
): Promise<StoredShadowReport[]> {
  const rows = await ctx.db
    .selectFrom('shadow_reports')
    .selectAll()
    .where('model', '=', model)
    .where('version', '=', version)
    .orderBy('created_at')
    .execute();
  return rows.map(toStored);
}

function toStored(row: {
  id: string;
  model: string;
  version: number;
  lifecycle_id: string;
  passed: number;
  reasons_json: string;
  report_json: string;
  created_at: string;
}): StoredShadowReport {
  return {
    id: row.id,
    model: row.model,
    version: row.version,
    lifecycleId: row.lifecycle_id,
    passed: row.passed === 1,
    reasons: parseJson<string[]>(row.reasons_json),
    report: parseJson<unknown>(row.report_json),
    createdAt: row.created_at,
  };
}
