import { ScheduleAlreadyRunning, ScheduleNotFoundError, type Client, type ScheduleOptions } from '@temporalio/client';
import { driftScheduleId, type DriftCheckInput, type MonitoringSettings } from '../workflows/monitoring-definitions';
import type { Environment } from '../workflows/definitions';

export interface DriftScheduleState {
  id: string;
  environment: Environment;
  exists: boolean;
  paused?: boolean;
  note?: string;
  intervalMinutes?: number;
  nextRuns?: string[];
  recentRuns?: Array<{ scheduledAt: string; workflowId: string }>;
}

/**
 * The Temporal Schedules of drift checks, one per model and environment: created or updated
 * idempotently at promotion, paused on rollback, removed at retirement, changed by the API.
 * Checks read what the environment serves when they run, so a schedule names no version.
 */
export class DriftSchedules {
  constructor(
    private readonly temporal: Client,
    /** Queue of the control workers, which run the driftCheck workflow. */
    private readonly taskQueue: string,
  ) {}

  /** Creates the schedule, or brings an existing one to the settings (interval, paused or not). */
  async ensure(model: string, environment: Environment, settings: MonitoringSettings, note?: string): Promise<void> {
    const id = driftScheduleId(model, environment);
    const options = this.options(model, environment, settings, note);
    try {
      await this.temporal.schedule.create({ scheduleId: id, ...options });
      return;
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    }
    await this.temporal.schedule.getHandle(id).update((previous) => ({
      ...previous,
      spec: options.spec,
      action: options.action,
      policies: options.policies,
      state: { ...previous.state, paused: options.state.paused, note: options.state.note },
    }));
  }

  /** Applies changed settings to the schedule of each given environment that has one. */
  async apply(model: string, environments: readonly Environment[], settings: MonitoringSettings): Promise<void> {
    for (const environment of environments) {
      const handle = this.temporal.schedule.getHandle(driftScheduleId(model, environment));
      const exists = await handle.describe().then(
        () => true,
        (err: unknown) => (err instanceof ScheduleNotFoundError ? false : Promise.reject(err)),
      );
      if (exists)
        await this.ensure(model, environment, settings, settings.paused ? 'paused through the API' : undefined);
    }
  }

  async pause(model: string, environment: Environment, note: string): Promise<void> {
    await this.temporal.schedule
      .getHandle(driftScheduleId(model, environment))
      .pause(note)
      .catch((err: unknown) => (err instanceof ScheduleNotFoundError ? undefined : Promise.reject(err)));
  }

  /** Removes the schedule; one already gone is fine (retries, a retirement after a retirement). */
  async remove(model: string, environment: Environment): Promise<void> {
    await this.temporal.schedule
      .getHandle(driftScheduleId(model, environment))
      .delete()
      .catch((err: unknown) => (err instanceof ScheduleNotFoundError ? undefined : Promise.reject(err)));
  }

  async describe(model: string, environment: Environment): Promise<DriftScheduleState> {
    const id = driftScheduleId(model, environment);
    try {
      const d = await this.temporal.schedule.getHandle(id).describe();
      const interval = d.spec.intervals?.[0]?.every;
      return {
        id,
        environment,
        exists: true,
        paused: d.state.paused,
        ...(d.state.note ? { note: d.state.note } : {}),
        ...(typeof interval === 'number' ? { intervalMinutes: interval / 60_000 } : {}),
        nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
        recentRuns: d.info.recentActions.slice(-5).map((a) => ({
          scheduledAt: a.scheduledAt.toISOString(),
          workflowId: a.action.workflow.workflowId,
        })),
      };
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return { id, environment, exists: false };
      throw err;
    }
  }

  private options(model: string, environment: Environment, settings: MonitoringSettings, note?: string) {
    const input: DriftCheckInput = { model, environment, requestedBy: 'schedule' };
    const everyMs = settings.intervalMinutes * 60_000;
    return {
      spec: { intervals: [{ every: everyMs }] },
      action: {
        type: 'startWorkflow' as const,
        workflowType: 'driftCheck',
        workflowId: driftScheduleId(model, environment),
        taskQueue: this.taskQueue,
        args: [input],
        workflowExecutionTimeout: everyMs * 4,
      },
      policies: {
        overlap: 'SKIP' as const,
        // After an outage, one missed check is worth running; a backlog of them is not.
        catchupWindow: Math.min(everyMs, 3_600_000),
        pauseOnFailure: false,
      },
      state: {
        paused: settings.paused,
        ...(note ? { note } : settings.paused ? { note: 'paused in the monitoring settings' } : {}),
      },
    } satisfies Omit<ScheduleOptions, 'scheduleId'>;
  }
}
