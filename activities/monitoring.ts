import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { ArtifactStore } from '../core/artifacts/store';
import { createWebhookSink } from '../core/connectors/webhook-sink';
import { invalidInput } from '../core/errors';
import { recordAlert, recordDriftCheck } from '../core/metrics/series';
import type { KafkaPort } from '../core/kafka/adapter';
import { alertsFromFindings, type Alert } from '../core/monitoring/alerts';
import { DriftRunner } from '../core/monitoring/drift-runner';
import { readLiveWindow } from '../core/monitoring/live-window';
import { effectiveSettings } from '../core/monitoring/settings';
import type { PythonRuntime } from '../core/python/runtime';
import type { Registry } from '../core/registry/registry';
import {
  lifecycleWorkflowId,
  searchAttributes,
  type DatasetRef,
  type Environment,
  type LifecycleInput,
} from '../workflows/definitions';
import {
  driftScheduleId,
  type DriftCheckInput,
  type DriftCheckResult,
  type DriftCheckStatus,
  type MonitoringSettings,
} from '../workflows/monitoring-definitions';
import { executionKeys } from './context';
import { DriftSchedules } from './drift-schedules';
import { withFailureMapping } from './failures';

export interface MonitoringActivityDeps {
  registry: Registry;
  artifacts: ArtifactStore;
  kafka: KafkaPort;
  python: PythonRuntime;
  temporal: Client;
  workDir: string;
  /** Topic of the alerts (`mloop.alerts`; tests name their own). */
  alertsTopic: string;
  /** Queues the schedules and retraining lifecycles send work to. */
  queues: { control: string; train: string; stream: string };
  /** Where webhook secrets are looked up by name; the worker's environment by default. */
  env?: Record<string, string | undefined>;
  /** Webhook retry waits (first, longest) and how long one delivery may keep retrying. */
  webhook?: { backoffMs?: [number, number]; deadlineMs?: number };
}

/** What a check found, for the steps after it (alerts, retraining). */
export interface CheckedWindow extends DriftCheckResult {
  alertsToPublish: Alert[];
  settings: MonitoringSettings;
}

export const createMonitoringActivities = (deps: MonitoringActivityDeps) => {
  const schedules = new DriftSchedules(deps.temporal, deps.queues.control);
  const runner = new DriftRunner(deps.python);

  const settingsOf = async (model: string): Promise<MonitoringSettings> =>
    effectiveSettings((await deps.registry.getMonitoringSettings(model))?.settings);

  return withFailureMapping({
    /**
     * One drift check: what the environment serves, the live window of its input by event time,
     * the statistics, and the report (JSON in the registry, HTML in the artifact store). Keyed by
     * the workflow execution, so a retry stores the same report once.
     */
    async runDriftCheck(input: DriftCheckInput & { at: string }): Promise<CheckedWindow> {
      const { model, environment } = input;
      const settings = await settingsOf(model);
      const skipped = (reason: string): CheckedWindow => ({
        model,
        environment,
        status: 'skipped',
        reason,
        alertsToPublish: [],
        settings,
      });
      const current = (await deps.registry.currentDeployments(model)).find((d) => d.environment === environment);
      if (!current) return skipped(`nothing is deployed to ${environment}`);
      const version = await deps.registry.getVersion(model, current.version);
      if (!version.profileDigest)
        return skipped(`v${version.version} has no reference profile (trained before profiles)`);
      if (!settings.input)
        return skipped(`no live input is configured: set "input" in the monitoring settings of ${model}`);

      const { workflowId, runId, activityId, attempt } = executionKeys();
      const reportId = reportIdOf(input.at, `${workflowId}/${runId}`);
      const scratch = path.join(deps.workDir, `drift-${reportId}-${activityId}-${attempt}`);
      await fs.rm(scratch, { recursive: true, force: true });
      await fs.mkdir(scratch, { recursive: true });
      try {
        const end = new Date(input.at);
        const start = new Date(end.getTime() - settings.windowMinutes * 60_000);
        const file = path.join(scratch, 'window.jsonl');
        const window = await readLiveWindow(deps.kafka, { ...settings.input, start, end, file });
        Context.current().heartbeat(`read ${window.rows} records`);
        const beat = setInterval(() => Context.current().heartbeat('checking'), 5000);
        let checked: Awaited<ReturnType<DriftRunner['check']>>;
        try {
          checked = await runner.check(
            {
              profile: deps.artifacts.pathOf(version.profileDigest),
              current: file,
              outDir: path.join(scratch, 'out'),
              overrides: { min_rows: settings.minRows },
            },
            { signal: Context.current().cancellationSignal },
          );
        } finally {
          clearInterval(beat);
        }
        const html = await deps.artifacts.put(checked.htmlFile);
        const report = {
          ...checked.report,
          check: {
            id: reportId,
            environment,
            version: version.version,
            window: {
              start: start.toISOString(),
              end: end.toISOString(),
              topic: settings.input.topic,
              eventTimeField: settings.input.eventTimeField,
            },
            records: window.rows,
            unreadable: window.unreadable,
            outsideWindow: window.outside,
            html: html.digest,
          },
        };
        await deps.registry.recordDriftReport({
          id: reportId,
          model,
          environment,
          version: version.version,
          status: checked.report.status as DriftCheckStatus,
          rows: window.rows,
          windowStart: start.toISOString(),
          windowEnd: end.toISOString(),
          report,
          htmlDigest: html.digest,
          workflowId,
        });
        const status = checked.report.status as DriftCheckStatus;
        if (status === 'drift' || status === 'no_drift') {
          const scores = checked.report.features.flatMap((f) =>
            f.score === null || f.test === null ? [] : [{ feature: f.name, statistic: f.test, score: f.score }],
          );
          recordDriftCheck(model, status, scores);
        }
        const scope = { model, environment, version: version.version };
        const alertsToPublish = alertsFromFindings(checked.report.findings, scope, { reportId, at: input.at });
        return {
          model,
          environment,
          status: checked.report.status as DriftCheckStatus,
          version: version.version,
          reportId,
          rows: window.rows,
          unreadable: window.unreadable,
          driftedFeatures: checked.report.features.filter((f) => f.drift === true).map((f) => f.name),
          alertsToPublish,
          settings,
        };
      } finally {
        await fs.rm(scratch, { recursive: true, force: true });
      }
    },

    /**
     * Publishes the alerts not already published within the dedupe window (claimed in the
     * registry, so the window holds across checks and restarts) to the alerts topic and the
     * webhook. A retried check publishes its claimed alerts again: at least once, never lost.
     */
    async publishAlerts(input: { reportId: string; alerts: Alert[]; settings: MonitoringSettings }): Promise<string[]> {
      const { settings } = input;
      let secret: string | undefined;
      if (settings.webhook) {
        secret = (deps.env ?? process.env)[settings.webhook.secretEnv];
        if (!secret)
          throw invalidInput(
            'webhook.secretEnv',
            `the worker's environment has no ${settings.webhook.secretEnv} to sign alerts with`,
          );
      }
      const keys = await deps.registry.claimAlerts(
        input.reportId,
        input.alerts.map((a) => a.dedupeKey),
        settings.dedupeMinutes * 60_000,
      );
      const alerts = input.alerts.filter((a) => keys.includes(a.dedupeKey));
      if (alerts.length === 0) return [];
      await deps.kafka.ensureTopic(deps.alertsTopic);
      await deps.kafka.produce(
        deps.alertsTopic,
        alerts.map((a) => ({ key: a.dedupeKey, value: JSON.stringify(a) })),
      );
      for (const a of alerts) recordAlert(a.model, a.type, a.severity);
      if (settings.webhook && secret) {
        const sink = createWebhookSink({
          url: settings.webhook.url,
          secret,
          ...(deps.webhook?.backoffMs ? { backoffMs: deps.webhook.backoffMs } : {}),
        });
        const rows = alerts.map((a, i) => ({
          record: {
            topic: deps.alertsTopic,
            partition: 0,
            offset: `${input.reportId}.${i}`,
            timestamp: String(Date.parse(a.at)),
            key: a.dedupeKey,
            value: JSON.stringify(a),
          },
          row: a as unknown as Record<string, unknown>,
        }));
        const signal = AbortSignal.any([
          Context.current().cancellationSignal,
          AbortSignal.timeout(deps.webhook?.deadlineMs ?? 5 * 60_000),
        ]);
        const refused = await sink.write(rows, signal);
        if (refused.length > 0) {
          Context.current().log.warn(
            `the alert webhook refused ${refused.length} alert(s): ${refused[0]?.reason ?? ''}`,
          );
        }
      }
      return alerts.map((a) => a.dedupeKey);
    },

    /**
     * Starts the retraining lifecycle of the drift episode: the episode opened within the
     * cool-down (then nothing new starts) or a new one. The workflow ID comes from the episode,
     * and an ID already used is never reused, so two checks that fire start one lifecycle.
     */
    async startRetraining(input: {
      model: string;
      environment: Environment;
      version: number;
      reportId: string;
      at: string;
      settings: MonitoringSettings;
    }): Promise<{ workflowId: string; started: boolean }> {
      const policy = input.settings.retraining;
      if (policy.mode !== 'on' || !policy.data) throw invalidInput('retraining', 'the retraining policy is off');
      const { model, environment } = input;
      const episode = await deps.registry.claimRetrainingEpisode(
        { model, environment, version: input.version, reportId: input.reportId },
        policy.cooldownMinutes * 60_000,
        (at) =>
          lifecycleWorkflowId(
            model,
            `drift-${environment}-v${input.version}-${at.toISOString().replace(/[-:]|\.\d+/g, '')}`,
          ),
      );
      if (!episode.opened) return { workflowId: episode.workflowId, started: false };
      const v = await deps.registry.getVersion(model, input.version);
      const at = Date.parse(input.at);
      const dataset: DatasetRef =
        policy.data.kind === 'dataset'
          ? { path: policy.data.path }
          : {
              kafka: {
                topic: policy.data.topic,
                from: { timestamp: new Date(at - policy.data.lookbackMinutes * 60_000).toISOString() },
                to: { timestamp: input.at },
              },
            };
      const lifecycle: LifecycleInput = {
        model,
        repo: { url: v.repoUrl, ref: v.commitSha, path: v.repoPath },
        dataset,
        params: v.params,
        requestedBy: `drift:${driftScheduleId(model, environment)}`,
        trainTaskQueue: deps.queues.train,
        streamTaskQueue: deps.queues.stream,
        ...(policy.shadow ? { shadow: policy.shadow } : {}),
        // Like any lifecycle: staging, then a human approval before production.
        deploy: { deployTaskQueue: deps.queues.control },
      };
      try {
        await deps.temporal.workflow.start('modelLifecycle', {
          workflowId: episode.workflowId,
          taskQueue: deps.queues.control,
          args: [lifecycle],
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          typedSearchAttributes: [
            { key: searchAttributes.model, value: model },
            { key: searchAttributes.stage, value: 'train' },
          ],
          memo: { reason: `drift in report ${input.reportId}` },
        });
      } catch (err) {
        // Started and already finished by an earlier attempt of this very activity.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      return { workflowId: episode.workflowId, started: true };
    },

    /** At promotion to an environment: its schedule exists and runs with the model's settings. */
    async ensureDriftSchedule(input: { model: string; environment: Environment }): Promise<void> {
      await schedules.ensure(input.model, input.environment, await settingsOf(input.model));
    },

    async pauseDriftSchedule(input: { model: string; environment: Environment; note: string }): Promise<void> {
      await schedules.pause(input.model, input.environment, input.note);
    },

    async removeDriftSchedule(input: { model: string; environment: Environment }): Promise<void> {
      await schedules.remove(input.model, input.environment);
    },
  });
};

/** Sortable by time and safe in a URL path segment; one per check execution. */
export function reportIdOf(at: string, execution: string): string {
  const stamp = new Date(at).toISOString().replace(/[-:]|\.\d+/g, '');
  return `${stamp}-${createHash('sha256').update(execution).digest('hex').slice(0, 12)}`;
}
