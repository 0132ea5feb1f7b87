import { MloopError } from '../errors';
import type { Queryable } from './context';

export interface ModelSummary {
  name: string;
  createdAt: string;
  /** Highest registered version; null for a model that so far has only runs that failed their gates. */
  latestVersion: number | null;
  /** Alias name → version. */
  aliases: Record<string, number>;
}

export async function requireModel(db: Queryable, name: string): Promise<void> {
  const row = await db.selectFrom('models').select('name').where('name', '=', name).executeTakeFirst();
  if (!row) throw new MloopError('NotFound', `no model "${name}"`, { model: name });
}

export async function listModels(db: Queryable, only?: string): Promise<ModelSummary[]> {
  let models = db
    .selectFrom('models')
    .leftJoin('model_versions', 'model_versions.model', 'models.name')
    .select([
      'models.name',
      'models.created_at',
      (eb) => eb.fn.max<number | null>('model_versions.version').as('latest_version'),
    ])
    .groupBy(['models.name', 'models.created_at'])
    .orderBy('models.name');
  let aliases = db.selectFrom('aliases').select(['model', 'alias', 'version']).orderBy('alias');
  if (only !== undefined) {
    models = models.where('models.name', '=', only);
    aliases = aliases.where('model', '=', only);
  }
  const byModel = new Map<string, Record<string, number>>();
  for (const a of await aliases.execute()) byModel.set(a.model, { ...byModel.get(a.model), [a.alias]: a.version });
  return (await models.execute()).map((m) => ({
    name: m.name,
    createdAt: m.created_at,
    latestVersion: m.latest_version ?? null,
    aliases: byModel.get(m.name) ?? {},
  }));
}

export async function getModel(db: Queryable, name: string): Promise<ModelSummary> {
  const [model] = await listModels(db, name);
  if (!model) throw new MloopError('NotFound', `no model "${name}"`, { model: name });
  return model;
}
