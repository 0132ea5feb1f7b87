import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { oneLine } from './errors';

/**
 * What the API says about a failed lifecycle: the error type and one line. Training failures carry
 * the model's traceback in their message for the run's log and the Web UI; API answers, read by
 * anyone with a viewer token, never do.
 */
export function failureView(err: unknown): { error: string; errorType?: string } {
  let current: unknown = err instanceof WorkflowFailedError ? (err.cause ?? err) : err;
  // The outermost typed failure: the lifecycle names the stage and the innermost cause's type.
  while (current instanceof Error && !(current instanceof ApplicationFailure) && current.cause instanceof Error)
    current = current.cause;
  const message = current instanceof Error ? current.message : String(current);
  const type = current instanceof ApplicationFailure ? current.type : undefined;
  return { error: oneLine(message), ...(type ? { errorType: type } : {}) };
}
