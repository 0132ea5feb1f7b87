import { Worker } from '@temporalio/worker';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowsPath } from '../../workers/create-workers';
import {
  abortSignal,
  approvePromotionUpdate,
  searchAttributes,
  statusQuery,
  type LifecycleInput,
  type LifecycleResult,
} from '../../workflows/definitions';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { RecordingReleases } from '../helpers/recording-releases';
import { startTestStack, type TestStack } from '../helpers/stack';
import { until } from '../helpers/until';

describe('a lifecycle waiting for approval continues as new before its history grows large', () => {
  let stack: TestStack;
  const releases = new RecordingReleases();

  beforeAll(async () => {
    stack = await startTestStack('lifecycle-can', { releases });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function startLifecycle(model: string) {
    const repo = await createExampleModelRepo();
    const input: LifecycleInput = {
      model,
      repo: { url: repo.url, ref: 'main', path: repo.path },
      dataset: { path: await createExampleDataset(600) },
      requestedBy: 'olivia',
      trainTaskQueue: stack.queues.train,
      streamTaskQueue: stack.queues.stream,
      deploy: {},
      // Far below the default: the train stage alone writes more events than this.
      continueAsNewAfterEvents: 40,
    };
    const handle = await stack.client.workflow.start('modelLifecycle', {
      workflowId: `lifecycle/${model}/${Date.now()}`,
      taskQueue: stack.queues.control,
      args: [input],
    });
    return { handle, repo };
  }

  async function runIds(workflowId: string): Promise<string[]> {
    const runs: string[] = [];
    for await (const w of stack.client.workflow.list({ query: `WorkflowId="${workflowId}"` })) runs.push(w.runId);
    return runs;
  }

  it('keeps its ID, status and approval across the new run; both runs replay', async () => {
    const model = 'can-lifecycle';
    const { handle, repo } = await startLifecycle(model);
    const firstRun = handle.firstExecutionRunId;

    const waiting = await until(
      'the lifecycle to wait for approval in a new run',
      async () => {
        const s = await handle.query(statusQuery);
        const d = await handle.describe();
        return s.stage === 'awaiting-approval' && d.runId !== firstRun ? { s, d } : undefined;
      },
      120_000,
    );
    // What the earlier run learned is carried over.
    expect(waiting.s.continuedAsNew).toBeGreaterThanOrEqual(1);
    expect(waiting.s.version).toBe(1);
    expect(waiting.s.commitSha).toBe(repo.sha);
    expect(waiting.s.deploy).toMatchObject({ phase: 'awaiting-approval', environment: 'production', version: 1 });
    expect(waiting.d.typedSearchAttributes.get(searchAttributes.model)).toBe(model);
    expect(waiting.d.typedSearchAttributes.get(searchAttributes.stage)).toBe('awaiting-approval');
    const first = await stack.client.workflow.getHandle(handle.workflowId, firstRun).describe();
    expect(first.status.name).toBe('CONTINUED_AS_NEW');
    // The deploy child started by the first run is the one still waiting.
    const deploy = await stack.client.workflow.getHandle(`${handle.workflowId}/deploy`).describe();
    expect(deploy.status.name).toBe('RUNNING');

    // Updates reach the new run, its validators still know who may decide.
    const selfApproval = await handle
      .executeUpdate(approvePromotionUpdate, { args: [{ by: 'olivia' }] })
      .catch((e: unknown) => e);
    expect(selfApproval).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(((selfApproval as WorkflowUpdateFailedError).cause as Error).message).toMatch(/may not approve it too/);
    await handle.executeUpdate(approvePromotionUpdate, { args: [{ by: 'ada', comment: 'after the hand-over' }] });

    const result = (await handle.result()) as LifecycleResult;
    expect(result.stage).toBe('production');
    expect(result.train?.version).toBe(1);
    expect(result.deployment).toMatchObject({
      outcome: 'production',
      version: 1,
      approval: { decision: { by: 'ada', comment: 'after the hand-over' } },
    });
    expect(await stack.deps.registry.getAliases(model)).toMatchObject({ champion: 1 });

    // Every run of the chain replays on today's code.
    const runs: string[] = [];
    for await (const w of stack.client.workflow.list({ query: `WorkflowId="${handle.workflowId}"` }))
      runs.push(w.runId);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    for (const runId of runs) {
      const history = await stack.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
      await Worker.runReplayHistory({ workflowsPath }, history, handle.workflowId);
    }
  });

  it('an abort after the hand-over cancels the deploy the earlier run started', async () => {
    const { handle } = await startLifecycle('can-abort');
    await until(
      'the new run to wait for approval',
      async () => {
        const [s, d] = await Promise.all([handle.query(statusQuery), handle.describe()]);
        return s.stage === 'awaiting-approval' && d.runId !== handle.firstExecutionRunId ? s : undefined;
      },
      120_000,
    );
    await handle.signal(abortSignal, { reason: 'wrong dataset', by: 'ada' });
    const result = (await handle.result()) as LifecycleResult;
    expect(result).toMatchObject({ stage: 'aborted', error: 'aborted by ada: wrong dataset' });
    const deploy = stack.client.workflow.getHandle(`${handle.workflowId}/deploy`);
    await until('the deploy child to close', async () =>
      (await deploy.describe()).status.name !== 'RUNNING' ? true : undefined,
    );
    expect((await deploy.describe()).status.name).toBe('CANCELLED');
  });

  it('a deploy that rolls back after the hand-over fails the lifecycle with its reason', async () => {
    releases.failingChecks.add(1);
    try {
      const { handle } = await startLifecycle('can-rollback');
      const failure = await handle.result().then(
        () => undefined,
        (e: unknown) => e as WorkflowFailedError,
      );
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure?.cause as Error).message).toMatch(
        /deploy of can-rollback v1 rolled back: smoke inference on .* failed/,
      );
      expect((await runIds(handle.workflowId)).length).toBeGreaterThanOrEqual(2);
    } finally {
      releases.failingChecks.delete(1);
    }
  });
});
