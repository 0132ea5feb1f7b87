import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  makeContinueAsNewFunc,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type {
  DeployModelResult,
  DeployStatus,
  LifecycleInput,
  LifecycleResult,
  LifecycleResume,
  LifecycleStatus,
} from '../definitions';
import type { deployModel } from '../deploy-model';

/** The lifecycle workflow's signature, for continuing it as new without importing it (no cycle). */
type LifecycleWorkflow = (input: LifecycleInput) => Promise<LifecycleResult>;

/** Phases a deploy child reports last, before it returns (or fails: `rolled-back`, `failed`). */
const finalDeployPhases = new Set<DeployStatus['phase']>([
  'production',
  'staged',
  'rejected',
  'expired',
  'rolled-back',
  'failed',
]);

/**
 * Waits for the deploy stage to end. The lifecycle may wait days for an approval, and every
 * signal and Update lengthens its history, so when the history grows long it continues as new
 * (same workflow ID; Updates, signals and the status query reach the new run) and the next run
 * learns the deploy's end from the child's `deployProgress` signals instead of its result.
 * `child` is undefined in a run after continue-as-new: the child was started by an earlier run.
 */
export async function awaitDeploy(
  input: LifecycleInput,
  status: LifecycleStatus,
  deployId: string,
  child: ChildWorkflowHandle<typeof deployModel> | undefined,
  resume: () => LifecycleResume,
): Promise<DeployModelResult> {
  // A floor keeps a tiny limit from handing over again before the new run has done anything.
  const limit = Math.max(input.continueAsNewAfterEvents ?? 10_000, 20);
  const historyLong = (): boolean => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= limit;
  const reported = (): boolean => finalDeployPhases.has(status.deploy?.phase ?? 'staging');
  let settled: { ok: true; result: DeployModelResult } | { ok: false; error: unknown } | undefined;
  const settling = child?.result().then(
    (result) => (settled = { ok: true, result }),
    (error: unknown) => (settled = { ok: false, error }),
  );
  try {
    await condition(() => settled !== undefined || (child === undefined && reported()) || historyLong());
  } catch (err) {
    // Aborted: the child is cancelled with the stage scope; one started by an earlier run is asked here.
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        if (child) await settling;
        else
          await getExternalWorkflowHandle(deployId)
            .cancel()
            .catch(() => undefined);
      });
    }
    throw err;
  }
  if (settled?.ok) return settled.result;
  if (settled) throw settled.error;
  if (child === undefined && reported()) return resultFromReport(status);
  // Updates in flight (an approval handing its decision on) finish in this run.
  await condition(allHandlersFinished);
  // The memo holds the start request's digest (Idempotency-Key): the next run keeps it.
  return makeContinueAsNewFunc<LifecycleWorkflow>({ memo: workflowInfo().memo })({ ...input, resume: resume() });
}

/** The deploy's result as its last report gives it; a rolled-back or failed deploy fails the stage. */
function resultFromReport(status: LifecycleStatus): DeployModelResult {
  const d = status.deploy!;
  if (d.phase === 'rolled-back' || d.phase === 'failed') {
    throw ApplicationFailure.create({
      type: 'DeployFailed',
      message: `deploy of ${d.model} v${d.version} ${d.phase === 'failed' ? 'failed' : 'rolled back'}: ${d.error}`,
      nonRetryable: true,
      details: [d],
    });
  }
  return { ...d, outcome: d.phase as DeployModelResult['outcome'] };
}
