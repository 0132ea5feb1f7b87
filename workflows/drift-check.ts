import { patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createHealthActivities } from '../activities/health';
import type { createMonitoringActivities } from '../activities/monitoring';
import type { DriftCheckInput, DriftCheckResult } from './monitoring-definitions';

type MonitoringActivities = ReturnType<typeof createMonitoringActivities> & ReturnType<typeof createHealthActivities>;

const nonRetryableErrorTypes = ['InvalidInput', 'NotFound', 'DatasetInvalid'];

/**
 * Stage 5: one drift check of what an environment serves, run by its schedule or by hand: the
 * live window against the version's reference profile, a stored report, alerts deduplicated per
 * finding, and, when the model's policy says so, a retraining lifecycle for the drift episode.
 * Each check also looks at the health of the environment's servers and pipeline transforms.
 */
export async function driftCheck(input: DriftCheckInput): Promise<DriftCheckResult> {
  const { runDriftCheck } = proxyActivities<MonitoringActivities>({
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '1 minute',
    retry: { maximumAttempts: 3, nonRetryableErrorTypes },
  });
  const { publishAlerts, startRetraining, checkHealth } = proxyActivities<MonitoringActivities>({
    startToCloseTimeout: '10 minutes',
    retry: { maximumAttempts: 5, nonRetryableErrorTypes },
  });
  // The check's instant is its start, so a replay or a retry reads the same window.
  const at = workflowInfo().runStartTime.toISOString();
  const { alertsToPublish, settings, ...checked } = await runDriftCheck({ ...input, at });
  const result: DriftCheckResult = { ...checked };
  // Health is checked whatever the drift check could do (no input configured, no profile).
  if (patched('health-check')) {
    const health = await checkHealth({ model: input.model, environment: input.environment, at });
    if (health.alerts.length > 0)
      result.alerts = await publishAlerts({ reportId: health.checkId, alerts: health.alerts, settings });
  }
  if (checked.reportId === undefined || checked.version === undefined) return result;
  const published = await publishAlerts({ reportId: checked.reportId, alerts: alertsToPublish, settings });
  result.alerts = [...(result.alerts ?? []), ...published];
  if (checked.status === 'drift' && settings.retraining.mode === 'on') {
    const episode = { model: input.model, environment: input.environment, version: checked.version };
    result.retraining = await startRetraining({ ...episode, reportId: checked.reportId, at, settings });
  }
  return result;
}
