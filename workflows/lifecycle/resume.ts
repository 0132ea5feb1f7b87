import type {
  LifecycleInput,
  LifecycleResume,
  LifecycleStatus,
  ShadowTestResult,
  TrainModelResult,
} from '../definitions';

/** The status a run starts from: carried over from the previous run after continue-as-new, else fresh. */
export function initialStatus(input: LifecycleInput): LifecycleStatus {
  return input.resume ? { ...input.resume.status } : { model: input.model, stage: 'train' };
}

/** What this run hands to the next one when it continues as new: status so far and the stages' results. */
export function nextResume(
  input: LifecycleInput,
  status: LifecycleStatus,
  train: TrainModelResult,
  shadow: ShadowTestResult | undefined,
): LifecycleResume {
  return {
    status: { ...status, continuedAsNew: (input.resume?.runs ?? 0) + 1 },
    train,
    ...(shadow ? { shadowTest: shadow } : {}),
    runs: (input.resume?.runs ?? 0) + 1,
  };
}
