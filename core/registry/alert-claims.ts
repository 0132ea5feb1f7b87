import type { RegistryContext } from './context';

/**
 * Of the given dedupe keys, those this check may publish: keys not published within the window,
 * and keys this same check published before (a retried check publishes again rather than lose
 * an alert). The claim is written in the same transaction, so two checks at once never both win.
 */
export async function claimAlerts(
  ctx: RegistryContext,
  reportId: string,
  keys: readonly string[],
  windowMs: number,
): Promise<string[]> {
  if (keys.length === 0) return [];
  return ctx.db.transaction().execute(async (trx) => {
    const now = ctx.now();
    const since = new Date(now.getTime() - windowMs).toISOString();
    const rows = await trx
      .selectFrom('alert_publications')
      .selectAll()
      .where('dedupe_key', 'in', [...keys])
      .execute();
    const last = new Map(rows.map((r) => [r.dedupe_key, r]));
    const claimed: string[] = [];
    for (const key of new Set(keys)) {
      const previous = last.get(key);
      if (previous && previous.report_id !== reportId && previous.published_at > since) continue;
      claimed.push(key);
      if (previous?.report_id === reportId) continue;
      const values = { report_id: reportId, published_at: now.toISOString() };
      await trx
        .insertInto('alert_publications')
        .values({ dedupe_key: key, ...values })
        .onConflict((oc) => oc.column('dedupe_key').doUpdateSet(values))
        .execute();
    }
    return claimed;
  });
}

export interface RetrainingEpisode {
  workflowId: string;
  reportId: string;
  startedAt: string;
  /** Whether this call opened the episode (false: one was open within the cool-down). */
  opened: boolean;
}

/**
 * The retraining episode a drifting check belongs to: the one opened within the cool-down for
 * the model's environment, or a new one with the workflow ID `workflowIdFor(startedAt)` gives.
 * One transaction, so two checks that fire together get the same episode.
 */
export async function claimRetrainingEpisode(
  ctx: RegistryContext,
  scope: { model: string; environment: string; version: number; reportId: string },
  cooldownMs: number,
  workflowIdFor: (startedAt: Date) => string,
): Promise<RetrainingEpisode> {
  return ctx.db.transaction().execute(async (trx) => {
    const now = ctx.now();
    const since = new Date(now.getTime() - cooldownMs).toISOString();
    const open = await trx
      .selectFrom('retraining_episodes')
      .selectAll()
      .where('model', '=', scope.model)
      .where('environment', '=', scope.environment)
      .where((eb) => eb.or([eb('started_at', '>', since), eb('report_id', '=', scope.reportId)]))
      .orderBy('started_at', 'desc')
      .executeTakeFirst();
    if (open)
      return {
        workflowId: open.workflow_id,
        reportId: open.report_id,
        startedAt: open.started_at,
        opened: open.report_id === scope.reportId,
      };
    const workflowId = workflowIdFor(now);
    const startedAt = now.toISOString();
    await trx
      .insertInto('retraining_episodes')
      .values({
        workflow_id: workflowId,
        model: scope.model,
        environment: scope.environment,
        version: scope.version,
        report_id: scope.reportId,
        started_at: startedAt,
      })
      .onConflict((oc) => oc.column('workflow_id').doNothing())
      .execute();
    return { workflowId, reportId: scope.reportId, startedAt, opened: true };
  });
}
