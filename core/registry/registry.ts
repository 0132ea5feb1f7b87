import * as alertClaims from './alert-claims';
import type { RetrainingEpisode } from './alert-claims';
import * as deployments from './deployments';
import * as driftReports from './drift-reports';
import type { DriftReportSummary, NewDriftReport, StoredDriftReport } from './drift-reports';
import * as monitoringSettings from './monitoring-settings';
import type { StoredSettings } from './monitoring-settings';
import type { DeploymentEvent, NewDeploymentEvent } from './deployments';
import * as shadowReports from './shadow-reports';
import type { NewShadowReport, StoredShadowReport } from './shadow-reports';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { Kysely, Migrator } from 'kysely';
import * as aliases from './aliases';
import type { AliasMove, SetAliasInput, SetAliasResult } from './aliases';
import type { RegistryContext } from './context';
import { migrationProvider } from './migrations';
import * as models from './models';
import type { ModelSummary } from './models';
import * as runs from './runs';
import type { NewRun, Run, RunComparison } from './runs';
import type { RegistryDatabase } from './schema';
import { QueuedWritersSqliteDialect } from './sqlite-dialect';
import * as versions from './versions';
import type { ModelVersion, NewModelVersion } from './versions';

export type { AliasMove, SetAliasInput, SetAliasResult } from './aliases';
export { aliasPattern } from './aliases';
export type { DeploymentEvent, NewDeploymentEvent } from './deployments';
export type { RetrainingEpisode } from './alert-claims';
export type { DriftReportSummary, NewDriftReport, StoredDriftReport } from './drift-reports';
export type { StoredSettings } from './monitoring-settings';
export type { ModelSummary } from './models';
export type { NewShadowReport, StoredShadowReport } from './shadow-reports';
export type { Metrics, NewRun, Run, RunComparison, RunEvaluation, RunOutcome } from './runs';
export type { ModelVersion, NewModelVersion, PositiveClass } from './versions';

export interface RegistryOptions {
  /** The clock that stamps every write; tests pass their own to get exact instants. */
  now?: () => Date;
  /** How long a write waits for another process's write lock before failing `Unavailable` (5 s). */
  busyTimeoutMs?: number;
}

/**
 * Models, their immutable versions with lineage, the training runs behind them and the aliases
 * (champion, …) that point at them, with every alias move kept. SQLite by default; queries are
 * portable SQL. "get" and "set" methods throw NotFound for unknown names; "list" and history
 * methods filter and return nothing.
 */
export class Registry {
  private readonly ctx: RegistryContext;

  private constructor(
    readonly db: Kysely<RegistryDatabase>,
    now: () => Date,
  ) {
    this.ctx = { db, now };
  }

  static async openSqlite(file: string, options: RegistryOptions = {}): Promise<Registry> {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const sqlite = new Database(file);
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    // WAL lets the API read while a worker writes; writers queue for the lock (see the dialect).
    sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    const dialect = new QueuedWritersSqliteDialect({ database: sqlite }, busyTimeoutMs);
    const db = new Kysely<RegistryDatabase>({ dialect });
    const registry = new Registry(db, options.now ?? (() => new Date()));
    await registry.migrate();
    return registry;
  }

  private async migrate(): Promise<void> {
    const { error } = await new Migrator({ db: this.db, provider: migrationProvider }).migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
  }

  // Models

  listModels(): Promise<ModelSummary[]> {
    return models.listModels(this.db);
  }

  getModel(name: string): Promise<ModelSummary> {
    return models.getModel(this.db, name);
  }

  // Versions

  /** Registers a new version, or returns the one already registered under the same idempotency key. */
  registerVersion(v: NewModelVersion): Promise<ModelVersion> {
    return versions.registerVersion(this.ctx, v);
  }

  getVersion(model: string, version: number): Promise<ModelVersion> {
    return versions.requireVersion(this.db, model, version);
  }

  listVersions(model: string): Promise<ModelVersion[]> {
    return versions.listVersions(this.db, model);
  }

  // Training runs

  /** Records a run, or returns the one already recorded under the same run key. */
  recordRun(run: NewRun): Promise<Run> {
    return runs.recordRun(this.ctx, run);
  }

  getRun(id: string): Promise<Run> {
    return runs.getRun(this.db, id);
  }

  listRuns(model: string): Promise<Run[]> {
    return runs.listRuns(this.db, model);
  }

  /** Links a run and the version registered from it, both ways; idempotent. */
  attachVersionToRun(runId: string, version: number): Promise<Run> {
    return runs.attachVersionToRun(this.ctx, runId, version);
  }

  compareRuns(ids: string[]): Promise<RunComparison> {
    return runs.compareRuns(this.db, ids);
  }

  // Aliases

  /** Points an alias at a version and logs the move; pointing it where it already is logs nothing. */
  setAlias(input: SetAliasInput): Promise<SetAliasResult> {
    return aliases.setAlias(this.ctx, input);
  }

  removeAlias(model: string, alias: string, by: string, reason?: string): Promise<AliasMove> {
    return aliases.removeAlias(this.ctx, model, alias, by, reason);
  }

  getAliases(model: string): Promise<Record<string, number>> {
    return aliases.getAliases(this.db, model);
  }

  aliasesAt(model: string, at: Date): Promise<Record<string, number>> {
    return aliases.aliasesAt(this.db, model, at);
  }

  aliasHistory(model: string): Promise<AliasMove[]> {
    return aliases.aliasHistory(this.db, model);
  }

  recordShadowReport(r: NewShadowReport): Promise<StoredShadowReport> {
    return shadowReports.recordShadowReport(this.ctx, r);
  }

  listShadowReports(model: string, version: number): Promise<StoredShadowReport[]> {
    return shadowReports.listShadowReports(this.ctx, model, version);
  }

  // Deployments

  recordDeploymentEvent(e: NewDeploymentEvent): Promise<DeploymentEvent> {
    return deployments.recordDeploymentEvent(this.ctx, e);
  }

  listDeploymentEvents(model: string, environment?: string): Promise<DeploymentEvent[]> {
    return deployments.listDeploymentEvents(this.ctx, model, environment);
  }

  currentDeployments(model?: string): Promise<DeploymentEvent[]> {
    return deployments.currentDeployments(this.ctx, model);
  }

  // Monitoring

  recordDriftReport(r: NewDriftReport): Promise<StoredDriftReport> {
    return driftReports.recordDriftReport(this.ctx, r);
  }

  getDriftReport(model: string, id: string): Promise<StoredDriftReport> {
    return driftReports.getDriftReport(this.ctx, model, id);
  }

  listDriftReports(model: string, opts?: { environment?: string; limit?: number }): Promise<DriftReportSummary[]> {
    return driftReports.listDriftReports(this.ctx, model, opts);
  }

  getMonitoringSettings(model: string): Promise<StoredSettings | null> {
    return monitoringSettings.getMonitoringSettings(this.ctx, model);
  }

  updateMonitoringSettings<T>(model: string, by: string, change: (current: unknown) => T): Promise<T> {
    return monitoringSettings.updateMonitoringSettings(this.ctx, model, by, change);
  }

  /** Which of the dedupe keys a check may publish now; see alert-claims.ts. */
  claimAlerts(reportId: string, keys: readonly string[], windowMs: number): Promise<string[]> {
    return alertClaims.claimAlerts(this.ctx, reportId, keys, windowMs);
  }

  claimRetrainingEpisode(
    scope: { model: string; environment: string; version: number; reportId: string },
    cooldownMs: number,
    workflowIdFor: (startedAt: Date) => string,
  ): Promise<RetrainingEpisode> {
    return alertClaims.claimRetrainingEpisode(this.ctx, scope, cooldownMs, workflowIdFor);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
