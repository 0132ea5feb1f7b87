import {
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createDeployActivities } from '../activities/deploy';
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
  const queue = input.deployTaskQueue ? { taskQueue: input.deployTaskQueue } : {};
  const quick = proxyActivities<DeployActivities>({ ...queue, startToCloseTimeout: '1 minute', retry: { maximumAttempts: 10, nonRetryableErrorTypes } });
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

  const status: DeployStatus = {
    model: input.model,
    environment: input.environment,
    version,
    phase: 'staging',
    requestedBy: input.requestedBy,
    endpoints: {},
  };
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
    const release = await slow.startRelease({ model: input.model, environment, version: input.version, backend, resources });
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
  return finish('production');
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
  while (current instanceof Error && (current as { cause?: unknown }).cause instanceof Error) current = (current as { cause: Error }).cause;
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
