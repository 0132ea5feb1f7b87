import type { Selectable } from 'kysely';
import { MloopError } from '../errors';
import { lineageColumns, lineageOf, type Lineage } from './lineage';
import { type Queryable, type RegistryContext } from './context';
import { linkRunToVersion } from './runs';
import type { ModelVersionsTable } from './schema';

export interface NewModelVersion extends Lineage {
  model: string;
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

export interface ModelVersion extends Omit<NewModelVersion, 'idempotencyKey' | 'trainingRunId' | 'profileDigest'> {
  version: number;
  trainingRunId: string | null;
  profileDigest: string | null;
  createdAt: string;
}

/** Registers a new version, or returns the one already registered under the same idempotency key. */
export async function registerVersion(ctx: RegistryContext, v: NewModelVersion): Promise<ModelVersion> {
  return ctx.db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('model_versions').selectAll().where('idempotency_key', '=', v.idempotencyKey).executeTakeFirst();
    if (existing) return toModelVersion(existing);
    const now = ctx.now().toISOString();
    await trx.insertInto('models').values({ name: v.model, created_at: now }).onConflict((oc) => oc.column('name').doNothing()).execute();
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
      })
      .execute();
    if (v.trainingRunId !== undefined) await linkRunToVersion(trx, v.trainingRunId, version, v.model);
    return requireVersion(trx, v.model, version);
  });
}

export async function requireVersion(db: Queryable, model: string, version: number): Promise<ModelVersion> {
  const row = await db.selectFrom('model_versions').selectAll().where('model', '=', model).where('version', '=', version).executeTakeFirst();
  if (!row) throw new MloopError('NotFound', `model "${model}" has no version ${version}`, { model, version });
  return toModelVersion(row);
}

export async function listVersions(db: Queryable, model: string): Promise<ModelVersion[]> {
  const rows = await db.selectFrom('model_versions').selectAll().where('model', '=', model).orderBy('version').execute();
  return rows.map(toModelVersion);
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
    profileDigest: r.profile_digest,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}
