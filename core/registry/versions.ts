import type { Selectable } from 'kysely';
import { invalidInput, MloopError } from '../errors';
import { lineageColumns, lineageOf, type Lineage } from './lineage';
import { parseJson, type Queryable, type RegistryContext } from './context';
import { linkRunToVersion } from './runs';
import type { ModelVersionsTable } from './schema';

/**
 * The class that a binary classifier's precision, recall, f1 and roc_auc are of, as training
 * chose it (the manifest's `positive_class`, else the larger of the two classes); shadow tests
 * of the version score the same class. `null` for regression, more than two classes, and
 * versions registered before it was recorded.
 */
export type PositiveClass = string | number | null;

export interface NewModelVersion extends Lineage {
  model: string;
  positiveClass?: PositiveClass;
  artifactDigest: string;
  artifactSize: number;
  workflowId: string;
  /** The Temporal run ID of the registering workflow (not a training run). */
  runId: string;
  /** The training run (see `recordRun`) this version came from; linked both ways when given. */
  trainingRunId?: string;
  /** The reference profile written at training time, stored in the artifact store (drift checks compare with it). */
  profileDigest?: string;
  idempotencyKey: string;
  createdBy: string;
}

export interface ModelVersion extends Omit<
  NewModelVersion,
  'idempotencyKey' | 'trainingRunId' | 'positiveClass' | 'profileDigest'
> {
  version: number;
  positiveClass: PositiveClass;
  trainingRunId: string | null;
  profileDigest: string | null;
  createdAt: string;
}

/** Registers a new version, or returns the one already registered under the same idempotency key. */
export async function registerVersion(ctx: RegistryContext, v: NewModelVersion): Promise<ModelVersion> {
  const positive = positiveClass(v.positiveClass ?? null);
  const positiveClassJson = positive === null ? null : JSON.stringify(positive);
  return ctx.db.transaction().execute(async (trx) => {
    const existing = await trx
      .selectFrom('model_versions')
      .selectAll()
      .where('idempotency_key', '=', v.idempotencyKey)
      .executeTakeFirst();
    if (existing) return toModelVersion(existing);
    const now = ctx.now().toISOString();
    await trx
      .insertInto('models')
      .values({ name: v.model, created_at: now })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const { max } = await trx
      .selectFrom('model_versions')
      .select((eb) => eb.fn.max<number | null>('version').as('max'))
      .where('model', '=', v.model)
      .executeTakeFirstOrThrow();
    const version = (max ?? 0) + 1;
    await trx
      .insertInto('model_versions')
      .values({
        model: v.model,
        version,
        artifact_digest: v.artifactDigest,
        artifact_size: v.artifactSize,
        profile_digest: v.profileDigest ?? null,
        ...lineageColumns(v),
        workflow_id: v.workflowId,
        run_id: v.runId,
        idempotency_key: v.idempotencyKey,
        created_by: v.createdBy,
        created_at: now,
        positive_class_json: positiveClassJson,
      })
      .execute();
    if (v.trainingRunId !== undefined) await linkRunToVersion(trx, v.trainingRunId, version, v.model);
    return requireVersion(trx, v.model, version);
  });
}

export async function requireVersion(db: Queryable, model: string, version: number): Promise<ModelVersion> {
  const row = await db
    .selectFrom('model_versions')
    .selectAll()
    .where('model', '=', model)
    .where('version', '=', version)
    .executeTakeFirst();
  if (!row) throw new MloopError('NotFound', `model "${model}" has no version ${version}`, { model, version });
  return toModelVersion(row);
}

export async function listVersions(db: Queryable, model: string): Promise<ModelVersion[]> {
  const rows = await db
    .selectFrom('model_versions')
    .selectAll()
    .where('model', '=', model)
    .orderBy('version')
    .execute();
  return rows.map(toModelVersion);
}

/** A positive class is text or a finite number: anything else would not compare with labels. */
function positiveClass(p: unknown): PositiveClass {
  if (p === null || typeof p === 'string' || (typeof p === 'number' && Number.isFinite(p))) return p;
  const shown = typeof p === 'number' ? String(p) : JSON.stringify(p);
  throw invalidInput('positiveClass', `must be text, a finite number or null (got ${shown})`);
}

function toModelVersion(r: Selectable<ModelVersionsTable>): ModelVersion {
  return {
    model: r.model,
    version: r.version,
    artifactDigest: r.artifact_digest,
    artifactSize: r.artifact_size,
    ...lineageOf(r),
    workflowId: r.workflow_id,
    runId: r.run_id,
    trainingRunId: r.training_run_id,
    positiveClass: r.positive_class_json === null ? null : positiveClass(parseJson<unknown>(r.positive_class_json)),
    profileDigest: r.profile_digest,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}
