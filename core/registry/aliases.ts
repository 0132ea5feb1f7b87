import type { Selectable } from 'kysely';
import { invalidInput, MloopError } from '../errors';
import type { Queryable, RegistryContext } from './context';
import { requireModel } from './models';
import type { AliasHistoryTable } from './schema';
import { requireVersion } from './versions';

export const aliasPattern = /^[a-z][a-z0-9_-]{0,31}$/;

/** One row of an alias's history; `version` null means the alias was removed. */
export interface AliasMove {
  id: number;
  model: string;
  alias: string;
  version: number | null;
  previousVersion: number | null;
  at: string;
  by: string;
  reason: string | null;
}

export interface SetAliasInput {
  model: string;
  alias: string;
  version: number;
  by: string;
  reason?: string;
}

/** The move that put the alias where it is; `changed` is false when it already pointed there. */
export interface SetAliasResult extends AliasMove {
  changed: boolean;
}

export async function setAlias(ctx: RegistryContext, input: SetAliasInput): Promise<SetAliasResult> {
  checkAliasName(input.alias);
  const { model, alias, version } = input;
  return ctx.db.transaction().execute(async (trx) => {
    await requireVersion(trx, model, version);
    const current = await currentVersion(trx, model, alias);
    if (current === version) return { ...(await lastMove(trx, model, alias)), changed: false };
    const at = await stamp(ctx, trx, model);
    await trx
      .insertInto('aliases')
      .values({ model, alias, version, updated_at: at, updated_by: input.by })
      .onConflict((oc) => oc.columns(['model', 'alias']).doUpdateSet({ version, updated_at: at, updated_by: input.by }))
      .execute();
    const move = await appendMove(trx, {
      model,
      alias,
      version,
      previous_version: current,
      at,
      by: input.by,
      reason: input.reason ?? null,
    });
    return { ...move, changed: true };
  });
}

export async function removeAlias(
  ctx: RegistryContext,
  model: string,
  alias: string,
  by: string,
  reason?: string,
): Promise<AliasMove> {
  checkAliasName(alias);
  return ctx.db.transaction().execute(async (trx) => {
    await requireModel(trx, model);
    const current = await currentVersion(trx, model, alias);
    if (current === null)
      throw new MloopError('NotFound', `model "${model}" has no alias "${alias}"`, { model, alias });
    const at = await stamp(ctx, trx, model);
    await trx.deleteFrom('aliases').where('model', '=', model).where('alias', '=', alias).execute();
    return appendMove(trx, { model, alias, version: null, previous_version: current, at, by, reason: reason ?? null });
  });
}

/** Alias name → version now; empty for an unknown model. */
export async function getAliases(db: Queryable, model: string): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('aliases')
    .select(['alias', 'version'])
    .where('model', '=', model)
    .orderBy('alias')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.alias, r.version]));
}

/** Alias name → version as they stood at `at`, replayed from the history; removed aliases are absent. */
export async function aliasesAt(db: Queryable, model: string, at: Date): Promise<Record<string, number>> {
  if (Number.isNaN(at.getTime())) throw invalidInput('at', 'is not a valid instant');
  const moves = await db
    .selectFrom('alias_history')
    .select(['alias', 'version'])
    .where('model', '=', model)
    .where('at', '<=', at.toISOString())
    .orderBy('at')
    .orderBy('id')
    .execute();
  const state = new Map<string, number>();
  for (const m of moves) {
    if (m.version === null) state.delete(m.alias);
    else state.set(m.alias, m.version);
  }
  return Object.fromEntries([...state].sort(([a], [b]) => a.localeCompare(b)));
}

/** Every move of every alias of the model, oldest first; empty for an unknown model. */
export async function aliasHistory(db: Queryable, model: string): Promise<AliasMove[]> {
  const rows = await db
    .selectFrom('alias_history')
    .selectAll()
    .where('model', '=', model)
    .orderBy('at')
    .orderBy('id')
    .execute();
  return rows.map(toMove);
}

function checkAliasName(alias: string): void {
  if (!aliasPattern.test(alias)) {
    throw invalidInput(
      'alias',
      `must be a lowercase letter followed by up to 31 lowercase letters, digits, "_" or "-" (got "${alias}")`,
    );
  }
}

async function currentVersion(db: Queryable, model: string, alias: string): Promise<number | null> {
  const row = await db
    .selectFrom('aliases')
    .select('version')
    .where('model', '=', model)
    .where('alias', '=', alias)
    .executeTakeFirst();
  return row?.version ?? null;
}

/**
 * The time of a new move: now, but never before the model's latest move, so that history order
 * and time order agree and `aliasesAt(now)` equals `getAliases` even if clocks step back.
 */
async function stamp(ctx: RegistryContext, db: Queryable, model: string): Promise<string> {
  const now = ctx.now().toISOString();
  const { last } = await db
    .selectFrom('alias_history')
    .select((eb) => eb.fn.max<string | null>('at').as('last'))
    .where('model', '=', model)
    .executeTakeFirstOrThrow();
  return last !== null && last > now ? last : now;
}

async function lastMove(db: Queryable, model: string, alias: string): Promise<AliasMove> {
  const row = await db
    .selectFrom('alias_history')
    .selectAll()
    .where('model', '=', model)
    .where('alias', '=', alias)
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirstOrThrow();
  return toMove(row);
}

async function appendMove(db: Queryable, move: Omit<Selectable<AliasHistoryTable>, 'id'>): Promise<AliasMove> {
  return toMove(await db.insertInto('alias_history').values(move).returningAll().executeTakeFirstOrThrow());
}

function toMove(r: Selectable<AliasHistoryTable>): AliasMove {
  return {
    id: r.id,
    model: r.model,
    alias: r.alias,
    version: r.version,
    previousVersion: r.previous_version,
    at: r.at,
    by: r.by,
    reason: r.reason,
  };
}
