import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createRegistryActivities } from '../activities/registry';
import type { createShadowActivities } from '../activities/shadow';
import type { ShadowReport } from '../core/shadow/report';
import type { ShadowJudgement } from '../core/shadow/thresholds';
import type { ShadowTestInput, ShadowTestResult } from './definitions';

type ShadowActivities = ReturnType<typeof createShadowActivities>;
type RegistryActivities = ReturnType<typeof createRegistryActivities>;

const { findChampion, recordShadowReport, judgeShadowReport } = proxyActivities<RegistryActivities & ShadowActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 10 },
});

/**
 * Stage 2: score live traffic with the candidate beside the champion, then judge the figures
 * against the thresholds and keep the report with the candidate's version.
 */
export async function shadowTest(input: ShadowTestInput): Promise<ShadowTestResult> {
  const stream = proxyActivities<ShadowActivities>({
    taskQueue: input.streamTaskQueue,
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 5 },
  });
  const { config } = input;
  const champion = await findChampion({ model: input.model });
  // Start positions are pinned in history, so a retried or resumed test reads the same messages.
  const inputOffsets = await stream.resolveStreamOffsets({
    topic: config.inputTopic,
    startAt: config.startAt ?? 'latest',
  });
  const labelOffsets = config.labelsTopic
    ? await stream.resolveStreamOffsets({ topic: config.labelsTopic, startAt: 'latest' })
    : {};
  const seconds = config.stopAfter.seconds;
  const deadlineMs = seconds !== undefined ? workflowInfo().startTime.getTime() + seconds * 1000 : null;

  const { runShadowTest } = proxyActivities<ShadowActivities>({
    taskQueue: input.streamTaskQueue,
    // Bounded by the test's own stop conditions; the heartbeat timeout notices a dead worker.
    startToCloseTimeout: seconds !== undefined ? `${seconds + 600} seconds` : '7 days',
    heartbeatTimeout: '15 seconds',
    retry: { maximumAttempts: 20, nonRetryableErrorTypes: ['InvalidInput', 'InvalidManifest', 'TrainingFailed'] },
  });
  const shadowTopic = `${input.model}.shadow`;
  const deadLetterTopic = `${input.model}.shadow.dlq`;
  const report: ShadowReport = await runShadowTest({
    lifecycleId: input.lifecycleId,
    model: input.model,
    task: input.task,
    candidate: input.candidate,
    champion,
    config,
    inputOffsets,
    labelOffsets,
    deadlineMs,
    shadowTopic,
    deadLetterTopic,
  });
  const judgement: ShadowJudgement = await judgeShadowReport({ report, thresholds: config.thresholds });
  await recordShadowReport({
    model: input.model,
    version: input.candidate.version,
    lifecycleId: input.lifecycleId,
    passed: judgement.passed,
    reasons: judgement.reasons,
    report,
  });
  return { report, judgement, shadowTopic, deadLetterTopic };
}
