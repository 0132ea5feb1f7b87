import { patched, proxyActivities } from '@temporalio/workflow';
import type { createDeployActivities } from '../activities/deploy';
import type { createMonitoringActivities } from '../activities/monitoring';
import type { RetireDeploymentInput } from './definitions';

type DeployActivities = ReturnType<typeof createDeployActivities>;

const { retireEnvironment, recordRetirement } = proxyActivities<DeployActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 10 },
});
const { removeDriftSchedule } = proxyActivities<ReturnType<typeof createMonitoringActivities>>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 10 },
});

/** Takes an environment of a model out of service: its endpoint stops routing and its servers stop. */
export async function retireDeployment(input: RetireDeploymentInput): Promise<{ stopped: number }> {
  const stopped = await retireEnvironment({ model: input.model, environment: input.environment });
  // Nothing serves there any more: nothing to watch.
  if (patched('drift-schedule')) await removeDriftSchedule({ model: input.model, environment: input.environment });
  await recordRetirement(input);
  return { stopped };
}
