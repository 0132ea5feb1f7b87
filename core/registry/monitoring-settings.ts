import { parseJson, type RegistryContext } from './context';
import { requireModel } from './models';

export interface StoredSettings {
  /** As stored; core/monitoring/settings.ts merges the defaults in and checks it. */
  settings: unknown;
  updatedAt: string;
  updatedBy: string;
}

export async function getMonitoringSettings(ctx: RegistryContext, model: string): Promise<StoredSettings | null> {
  const row = await ctx.db.selectFrom('monitoring_settings').selectAll().where('model', '=', model).executeTakeFirst();
  return row
    ? { settings: parseJson<unknown>(row.settings_json), updatedAt: row.updated_at, updatedBy: row.updated_by }
    : null;
}

/**
 * Replaces a model's settings with `change(current)`, in one transaction, so two concurrent
 * changes apply one after the other instead of one losing the other's fields.
 */
export async function updateMonitoringSettings<T>(
  ctx: RegistryContext,
  model: string,
  by: string,
  change: (current: unknown) => T,
): Promise<T> {
  return ctx.db.transaction().execute(async (trx) => {
    await requireModel(trx, model);
    const row = await trx
      .selectFrom('monitoring_settings')
      .select('settings_json')
      .where('model', '=', model)
      .executeTakeFirst();
    const next = change(row ? parseJson<unknown>(row.settings_json) : null);
    const values = { settings_json: JSON.stringify(next), updated_at: ctx.now().toISOString(), updated_by: by };
    await trx
      .insertInto('monitoring_settings')
      .values({ model, ...values })
      .onConflict((oc) => oc.column('model').doUpdateSet(values))
      .execute();
    return next;
  });
}
