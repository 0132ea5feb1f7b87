import { Context } from '@temporalio/activity';

/** The IDs that make an activity's side effects idempotent; mloop activities always run in a workflow. */
export function executionKeys(): { workflowId: string; runId: string; activityId: string; attempt: number } {
  const { workflowExecution, activityId, attempt } = Context.current().info;
  if (!workflowExecution) throw new Error('mloop activities must be called from a workflow');
  return { workflowId: workflowExecution.workflowId, runId: workflowExecution.runId, activityId, attempt };
}
