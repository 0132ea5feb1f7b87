import {
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createDeployActivities } from '../activities/deploy';
import type { createMonitoringActivities } from '../activities/monitoring';
import {
  approvePromotionUpdate,
  defaultApprovalTimeoutSeconds,
  defaultDeployResources,
  deployProgressSignal,
  deployStatusQuery,
  promotionDecidedSignal,
  rejectPromotionUpdate,
  searchAttributes,
  type DeployModelInput,
  type DeployModelResult,
  type DeployPhase,
  type DeployStatus,
  type Environment,
  type PromotionDecision,
  type ReleaseRef,
} from './definitions';
import { promotionDecision, validatePromotionDecision, type PromotionGateState } from './promotion-gate';

type DeployActivities = ReturnType<typeof createDeployActivities>;

const nonRetryableErrorTypes = ['InvalidInput', 'InvalidManifest', 'NotFound', 'DeploymentFailed'];

/**
 * Stage 4: deploy a version to staging and check it (ready, then a smoke inference); for
 * production, wait for a human decision, then swap production to it blue/green: start the new
 * servers beside the old, check them, switch the stable endpoint, drain and stop the old, move
 * `champion`. A failed check rolls back by itself: the old servers keep serving, the alias stays.
 */
export async function deployModel(input: DeployModelInput): Promise<DeployModelResult> {
  const last: { status?: DeployStatus } = {};
  try {
    return await deployStages(input, last);
  } catch (err) {
    // A lifecycle that continued as new learns the end of its deploy only from these reports.
    const status = last.status;
    const unreported = status && !isCancellation(err) && status.phase !== 'rolled-back';
    if (input.lifecycleId && unreported && patched('report-deploy-failure')) {
      const failed: DeployStatus = { ...status, phase: 'failed', error: messageOf(err) };
      await getExternalWorkflowHandle(input.lifecycleId).signal(deployProgressSignal, failed);
    }
    throw err;
  }
}

async function deployStages(input: DeployModelInput, last: { status?: DeployStatus }): Promise<DeployModelResult> {
  const queue = input.deployTaskQueue ? { taskQueue: input.deployTaskQueue } : {};
  const quick = proxyActivities<DeployActivities>({
    ...queue,
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 10, nonRetryableErrorTypes },
  });
  const resources = { ...defaultDeployResources, ...input.resources };
  // Building an image or starting servers can take minutes; the heartbeat notices a dead worker.
  const slow = proxyActivities<DeployActivities>({
    ...queue,
    startToCloseTimeout: `${resources.healthTimeoutSeconds + 1200} seconds`,
    heartbeatTimeout: '30 seconds',
    retry: { maximumAttempts: 5, nonRetryableErrorTypes },
  });
  const backend = input.backend ?? 'process';
  const version = input.version.version;
  // A decision taken beforehand approves a promotion; a staging deploy has none, and skipping
  // staging on it would swap production.
  if (input.environment === 'staging' && input.preApproved && patched('staging-refuses-pre-approval')) {
    throw ApplicationFailure.create({
      type: 'InvalidInput',
      nonRetryable: true,
      message: 'preApproved: a staging deploy has no promotion to approve; deploy to production to use it',
    });
  }

  const status: DeployStatus = {
    model: input.model,
    environment: input.environment,
    version,
    phase: 'staging',
    requestedBy: input.requestedBy,
    endpoints: {},
  };
  last.status = status;
  const gate: PromotionGateState = {
    awaiting: false,
    version,
    requestedBy: input.requestedBy,
    allowSelfApproval: input.promotion?.allowSelfApproval ?? false,
  };
  registerPromotionHandlers(status, gate);

  const enter = async (phase: DeployPhase, error?: string): Promise<void> => {
    status.phase = phase;
    if (error !== undefined) status.error = error;
    upsertSearchAttributes([
      { key: searchAttributes.model, value: input.model },
      { key: searchAttributes.stage, value: `deploy:${phase}` },
      { key: searchAttributes.version, value: version },
    ]);
    if (input.lifecycleId) {
      await getExternalWorkflowHandle(input.lifecycleId).signal(deployProgressSignal, { ...status });
    }
  };
  const finish = async (outcome: DeployModelResult['outcome'], error?: string): Promise<DeployModelResult> => {
    await enter(outcome, error);
    await quick.recordDeployment({ status: { ...status }, outcome });
    return { ...status, outcome };
  };

  /** Starts the version's servers for one environment and checks them; a failed check stops them again. */
  const startChecked = async (environment: Environment): Promise<ReleaseRef> => {
    const release = await slow.startRelease({
      model: input.model,
      environment,
      version: input.version,
      backend,
      resources,
    });
    try {
      await slow.checkRelease({ release, timeoutSeconds: resources.healthTimeoutSeconds });
    } catch (err) {
      await quick.stopRelease({ release });
      throw err;
    }
    return release;
  };
  /** Points the environment's stable endpoint at the release, then stops what it replaced. */
  const routeTo = async (release: ReleaseRef): Promise<number | null> => {
    const routed = await slow.routeRelease({ release });
    status.endpoints[release.environment] = routed.endpoint;
    if (routed.previous && routed.previous.name !== release.name) await quick.stopRelease({ release: routed.previous });
    return routed.previous?.version ?? null;
  };

  let decision: PromotionDecision | undefined = input.preApproved;
  if (!decision) {
    await enter('staging');
    try {
      await routeTo(await startChecked('staging'));
    } catch (err) {
      return failWith(await finish('rolled-back', messageOf(err)), err);
    }
    if (input.environment === 'staging') return finish('staged');

    const blockedBy = await quick.promotionBlockers({ model: input.model, version });
    if (blockedBy) gate.blockedBy = blockedBy;
    const timeoutSeconds = input.promotion?.timeoutSeconds ?? defaultApprovalTimeoutSeconds;
    status.approval = {
      deadline: new Date(workflowInfo().runStartTime.getTime() + timeoutSeconds * 1000).toISOString(),
      ...(blockedBy ? { blockedBy } : {}),
    };
    gate.awaiting = true;
    await enter('awaiting-approval');
    // A durable timer: no worker holds anything while a person decides.
    const decided = await condition(() => gate.decision !== undefined, timeoutSeconds * 1000);
    gate.awaiting = false;
    decision = gate.decision;
    if (!decided || !decision) {
      await quick.retireRelease({ model: input.model, environment: 'staging', version });
      return finish('expired', `no decision before ${status.approval.deadline}`);
    }
    if (!decision.approved) {
      await quick.retireRelease({ model: input.model, environment: 'staging', version });
      return finish('rejected');
    }
  }
  status.approval = { ...status.approval, deadline: status.approval?.deadline ?? decision.at, decision };

  await enter('promoting');
  let green: ReleaseRef;
  try {
    green = await startChecked('production');
  } catch (err) {
    return failWith(await finish('rolled-back', messageOf(err)), err);
  }
  status.previousVersion = await routeTo(green);
  await quick.promoteChampion({
    model: input.model,
    version,
    by: decision.by,
    reason: input.reason ?? `approved${decision.comment ? `: ${decision.comment}` : ''} (${workflowInfo().workflowId})`,
  });
  if (patched('drift-schedule')) await watchProduction(input, queue);
  return finish('production');
}

/**
 * Production now serves the version: its drift schedule runs (created or updated). After a
 * rollback it is paused instead, until someone resumes it: the version restored is the one that
 * was replaced, and its checks would alert and retrain on what made people roll back.
 */
async function watchProduction(input: DeployModelInput, queue: { taskQueue?: string }): Promise<void> {
  const monitoring = proxyActivities<ReturnType<typeof createMonitoringActivities>>({
    ...queue,
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 10 },
  });
  const scope = { model: input.model, environment: 'production' as const };
  await monitoring.ensureDriftSchedule(scope);
  if (input.rollbackOf !== undefined) {
    const resume = `resume with PATCH /v1/models/${input.model}/monitoring {"paused": false}`;
    const note = `paused by the rollback from v${input.rollbackOf} to v${input.version.version}; ${resume}`;
    await monitoring.pauseDriftSchedule({ ...scope, note });
  }
}

function registerPromotionHandlers(status: DeployStatus, gate: PromotionGateState): void {
  const decide = (approved: boolean) => (input: Parameters<typeof promotionDecision>[1]) => {
    gate.decision = promotionDecision(approved, input, new Date());
    if (status.approval) status.approval.decision = gate.decision;
    return gate.decision;
  };
  setHandler(deployStatusQuery, () => status);
  setHandler(approvePromotionUpdate, decide(true), { validator: (i) => validatePromotionDecision(gate, true, i) });
  setHandler(rejectPromotionUpdate, decide(false), { validator: (i) => validatePromotionDecision(gate, false, i) });
  // The lifecycle validated the decision with its own Update before handing it on.
  setHandler(promotionDecidedSignal, (d) => {
    if (gate.awaiting && !gate.decision) {
      gate.decision = d;
      if (status.approval) status.approval.decision = d;
    }
  });
}

/** A rolled-back deploy is a failed stage: its result is kept in the failure's details. */
function failWith(result: DeployModelResult, err: unknown): never {
  throw ApplicationFailure.create({
    type: typeOf(err) ?? 'DeployFailed',
    message: `deploy of ${result.model} v${result.version} rolled back: ${result.error ?? messageOf(err)}`,
    nonRetryable: true,
    details: [result],
  });
}

function messageOf(err: unknown): string {
  let current: unknown = err;
  while (current instanceof Error && (current as { cause?: unknown }).cause instanceof Error)
    current = (current as { cause: Error }).cause;
  return current instanceof Error ? current.message : String(current);
}

function typeOf(err: unknown): string | undefined {
  let current: unknown = err;
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure && current.type) return current.type;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
