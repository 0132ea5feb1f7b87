import { ApplicationFailure, ChildWorkflowFailure, WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { failureView } from '../../api/failure-view';

describe('what the API says about a failed lifecycle', () => {
  const traceback = [
    "pm: stage failed: train() raised KeyError: 'label'",
    'Traceback (most recent call last):',
    '  File "/srv/models/pm/train.py", line 12, in train',
    '    DB_PASSWORD = open("/etc/mloop/secret").read()  # hunter2',
    "KeyError: 'label'",
  ].join('\n');

  it('gives the error type and one line, never the traceback or the code it quotes', () => {
    const err = new WorkflowFailedError(
      'Workflow execution failed',
      ApplicationFailure.create({ type: 'TrainingFailed', message: traceback }),
      'NON_RETRYABLE_FAILURE',
    );
    expect(failureView(err)).toEqual({
      error: "pm: stage failed: train() raised KeyError: 'label'",
      errorType: 'TrainingFailed',
    });
  });

  it('finds the typed failure under wrapping layers', () => {
    const inner = ApplicationFailure.create({ type: 'DatasetInvalid', message: 'dataset.path: no such file\nmore' });
    const child = new ChildWorkflowFailure(
      'default',
      { workflowId: 'x/train', runId: 'r' },
      'trainModel',
      'NON_RETRYABLE_FAILURE',
      inner,
    );
    expect(failureView(new WorkflowFailedError('Workflow execution failed', child, 'NON_RETRYABLE_FAILURE'))).toEqual({
      error: 'dataset.path: no such file',
      errorType: 'DatasetInvalid',
    });
  });

  it('hides credentials and tokens, and cuts very long lines', () => {
    const err = ApplicationFailure.create({
      type: 'InvalidModelRepo',
      message: `cannot clone https://u:pa55@h/x ${'y'.repeat(2000)}`,
    });
    const view = failureView(new WorkflowFailedError('failed', err, 'NON_RETRYABLE_FAILURE'));
    expect(view.error).not.toContain('pa55');
    expect(view.error.length).toBeLessThan(600);
    expect(failureView(new Error('\n\nplain\nsecond'))).toEqual({ error: 'plain' });
  });
});
