import { ApplicationFailure, ChildWorkflowFailure, type TemporalFailure } from '@temporalio/workflow';

/** The innermost failure names what went wrong (e.g. TrainingFailed), not the wrapping layers. */
export function rootCause(err: unknown): { message: string; type?: string } {
  let current: unknown = err;
  while (
    current instanceof ChildWorkflowFailure ||
    ((current as TemporalFailure | undefined)?.cause && !(current instanceof ApplicationFailure))
  ) {
    const next = (current as TemporalFailure).cause;
    if (!next) break;
    current = next;
  }
  if (current instanceof ApplicationFailure) return { message: current.message, type: current.type ?? undefined };
  return { message: current instanceof Error ? current.message : String(current) };
}
