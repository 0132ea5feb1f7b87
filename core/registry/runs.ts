import type { Selectable } from 'kysely';
import { invalidInput, MloopError } from '../errors';
import type { GateResult } from '../evaluation/gates';
import { lineageColumns, lineageOf, type Lineage, type Metrics } from './lineage';
import { parseJson, type Queryable, type RegistryContext } from './context';
import type { RunsTable } from './schema';

export type RunOutcome = 'passed' | 'gate_failed';

export type { Metrics } from './lineage';

/** The comparison a run was judged by: candidate and champion scored on the same holdout, then the gates. */
export interface RunEvaluation {
  holdout: { seed: number; fraction: number; rows: number; digest: string };
  candidate: Metrics;
  champion: { version: number; commitSha: string; metrics: Metrics } | null;
  gates: GateResult[];
  passed: boolean;
}

/** `metrics` are the candidate's on the holdout. */
export interface NewRun extends Lineage {
  /** Idempotency key and ID of the run; recording it again returns the first row. */
  runKey: string;
  /** The lifecycle workflow's ID. */
  lifecycleId: string;
  model: string;
  evaluation: RunEvaluation;
  outcome: RunOutcome;
  createdBy: string;
}

export interface Run extends Omit<NewRun, 'runKey'> {
  id: string;
  /** The model version registered from this run, if any. */
  version: number | null;
  createdAt: string;
}

/** Side by side: `metrics[name][i]` is the value of `runs[i]`, null when that run lacks the metric. */
export interface RunComparison {
  runs: Array<
    Pick<
      Run,
      | 'id'
      | 'model'
      | 'lifecycleId'
      | 'commitSha'
      | 'datasetFingerprint'
      | 'params'
      | 'outcome'
      | 'version'
      | 'createdAt'
    >
  >;
  metrics: Record<string, Array<number | null>>;
}

// Run keys are usually workflow IDs plus a suffix, so slashes are allowed; commas are not, since
// the compare endpoint lists IDs separated by commas.
const runKeyPattern = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,511}$/;

export async function recordRun(ctx: RegistryContext, run: NewRun): Promise<Run> {
  if (!runKeyPattern.test(run.runKey)) {
    throw invalidInput(
      'runKey',
      `must be 1 to 512 letters, digits or "._:@/-", starting with a letter or digit (got "${run.runKey}")`,
    );
  }
  return ctx.db.transaction().execute(async (trx) => {
    const now = ctx.now().toISOString();
    await trx
      .insertInto('models')
      .values({ name: run.model, created_at: now })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    // Insert-or-ignore, then read: a retry (even a concurrent one) gets the row that won.
    await trx
      .insertInto('runs')
      .values({
        id: run.runKey,
        lifecycle_id: run.lifecycleId,
        model: run.model,
        ...lineageColumns(run),
        evaluation_json: JSON.stringify(run.evaluation),
        outcome: run.outcome,
        created_by: run.createdBy,
        created_at: now,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    return getRun(trx, run.runKey);
  });
}

export async function getRun(db: Queryable, id: string): Promise<Run> {
  const row = await db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new MloopError('NotFound', `no run "${id}"`, { run: id });
  return toRun(row);
}

/** A model's runs, oldest first; empty for a model without runs. */
export async function listRuns(db: Queryable, model: string): Promise<Run[]> {
  const rows = await db
    .selectFrom('runs')
    .selectAll()
    .where('model', '=', model)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(toRun);
}

export async function attachVersionToRun(ctx: RegistryContext, runId: string, version: number): Promise<Run> {
  return ctx.db.transaction().execute(async (trx) => {
    await linkRunToVersion(trx, runId, version);
    return getRun(trx, runId);
  });
}

/**
 * Points a run at the version it produced and the version back at the run, so either side finds
 * the other. Idempotent; relinking either side elsewhere is a Conflict.
 */
export async function linkRunToVersion(trx: Queryable, runId: string, version: number, model?: string): Promise<void> {
  const run = await getRun(trx, runId);
  if (model !== undefined && run.model !== model) {
    throw invalidInput('trainingRunId', `run "${runId}" trained model "${run.model}", not "${model}"`);
  }
  const target = await trx
    .selectFrom('model_versions')
    .select('training_run_id')
    .where('model', '=', run.model)
    .where('version', '=', version)
    .executeTakeFirst();
  if (!target)
    throw new MloopError('NotFound', `model "${run.model}" has no version ${version}`, { model: run.model, version });
  if (run.version !== null && run.version !== version) {
    throw new MloopError('Conflict', `run "${runId}" already produced version ${run.version} of "${run.model}"`);
  }
  if (target.training_run_id !== null && target.training_run_id !== runId) {
    throw new MloopError('Conflict', `version ${version} of "${run.model}" came from run "${target.training_run_id}"`);
  }
  await trx.updateTable('runs').set({ version }).where('id', '=', runId).execute();
  await trx
    .updateTable('model_versions')
    .set({ training_run_id: runId })
    .where('model', '=', run.model)
    .where('version', '=', version)
    .execute();
}

export async function compareRuns(db: Queryable, ids: string[]): Promise<RunComparison> {
  const unique = [...new Set(ids)];
  if (unique.length < 2) throw invalidInput('ids', 'name at least two different runs');
  const rows = await db.selectFrom('runs').selectAll().where('id', 'in', unique).execute();
  const byId = new Map(rows.map((r) => [r.id, toRun(r)]));
  const missing = unique.filter((id) => !byId.has(id));
  if (missing.length > 0)
    throw new MloopError('NotFound', `no run ${missing.map((id) => `"${id}"`).join(', ')}`, { runs: missing });
  const runs = unique.map((id) => byId.get(id) as Run);
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const metrics = Object.fromEntries(names.map((name) => [name, runs.map((r) => r.metrics[name] ?? null)]));
  return {
    runs: runs.map(
      ({ id, model, lifecycleId, commitSha, datasetFingerprint, params, outcome, version, createdAt }) => ({
        id,
        model,
        lifecycleId,
        commitSha,
        datasetFingerprint,
        params,
        outcome,
        version,
        createdAt,
      }),
    ),
    metrics,
  };
}

function toRun(r: Selectable<RunsTable>): Run {
  return {
    id: r.id,
    lifecycleId: r.lifecycle_id,
    model: r.model,
    ...lineageOf(r),
    evaluation: parseJson<RunEvaluation>(r.evaluation_json),
    outcome: r.outcome,
    version: r.version,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}
