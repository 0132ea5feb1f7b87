import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  approvePromotionUpdate,
  deployStatusQuery,
  searchAttributes,
  statusQuery,
  type LifecycleInput,
  type LifecycleResult,
  rejectPromotionUpdate,
  type DeployModelInput,
  type DeployModelResult,
  type VersionRef,
} from '../../workflows/definitions';
import { RecordingReleases } from '../helpers/recording-releases';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { newVersion } from '../helpers/registry';
import { startTestStack, type TestStack } from '../helpers/stack';
import { until } from '../helpers/until';

/**
 * The deploy workflow's decisions on the real Temporal server: staging, the approval gate and its
 * validators, the timer, rejection and rollback. Releases are kept in memory here; the process and
 * docker runtimes behind the real proxy have integration tests of their own.
 */
describe('deployModel: staging, approval, blue/green, rollback (real Temporal)', () => {
  let stack: TestStack;
  const releases = new RecordingReleases();
  let seq = 0;

  beforeAll(async () => {
    stack = await startTestStack('deploy-model', { releases });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function registered(model: string): Promise<VersionRef> {
    seq += 1;
    const v = await stack.deps.registry.registerVersion(newVersion(model, `deploy-test-${model}-${seq}`));
    return {
      version: v.version,
      commitSha: v.commitSha,
      repoUrl: v.repoUrl,
      repoPath: v.repoPath,
      artifactDigest: v.artifactDigest,
    };
  }

  function start(id: string, input: Omit<DeployModelInput, 'requestedBy'> & { requestedBy?: string }) {
    return stack.client.workflow.start('deployModel', {
      workflowId: `${id}-${seq}-${Date.now()}`,
      taskQueue: stack.queues.control,
      args: [{ requestedBy: 'olivia', ...input }],
    });
  }

  async function awaiting(handle: Awaited<ReturnType<typeof start>>) {
    return until('the deploy to wait for approval', async () => {
      const s = await handle.query(deployStatusQuery);
      return s.phase === 'awaiting-approval' ? s : undefined;
    });
  }

  async function refusal(p: Promise<unknown>): Promise<string> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    return ((err as WorkflowUpdateFailedError).cause as Error).message;
  }

  it('deploys to staging only when asked for staging', async () => {
    const version = await registered('dm-staging');
    const handle = await start('deploy/dm-staging', { model: 'dm-staging', version, environment: 'staging' });
    const result = (await handle.result()) as DeployModelResult;
    expect(result.outcome).toBe('staged');
    expect(result.endpoints.staging).toMatch(/^http:/);
    expect(releases.routed.get('dm-staging/staging')?.version).toBe(version.version);
    const events = await stack.deps.registry.listDeploymentEvents('dm-staging');
    expect(events.map((e) => [e.environment, e.outcome, e.by])).toEqual([['staging', 'staged', 'olivia']]);
  });

  it('refuses a pre-approved staging deploy, touching neither staging nor production', async () => {
    const model = 'dm-staging-preapproved';
    const version = await registered(model);
    const handle = await start('deploy/dm-staging-preapproved', {
      model,
      version,
      environment: 'staging',
      preApproved: { approved: true, by: 'ada', at: new Date().toISOString() },
    });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as Error).message).toBe(
      'preApproved: a staging deploy has no promotion to approve; deploy to production to use it',
    );
    expect(releases.routed.get(`${model}/staging`)).toBeUndefined();
    expect(releases.routed.get(`${model}/production`)).toBeUndefined();
    expect(await stack.deps.registry.getAliases(model)).not.toHaveProperty('champion');
  });

  it(
    'waits for an approval with a visible deadline, ' + 'refuses self-approval and a second decision, then promotes',
    async () => {
      const model = 'dm-approve';
      const v1 = await registered(model);
      const handle = await start('deploy/dm-approve', { model, version: v1, environment: 'production' });
      const waiting = await awaiting(handle);
      const deadline = Date.parse(waiting.approval?.deadline ?? '');
      expect(deadline - Date.now()).toBeGreaterThan(6.9 * 24 * 3600 * 1000);
      expect(releases.routed.get(`${model}/production`)).toBeUndefined();

      expect(await refusal(handle.executeUpdate(approvePromotionUpdate, { args: [{ by: 'olivia' }] }))).toBe(
        'olivia started this deploy and may not approve it too; another approver must',
      );
      const decision = await handle.executeUpdate(approvePromotionUpdate, {
        args: [{ by: 'ada', comment: 'looks good' }],
      });
      expect(decision).toMatchObject({ approved: true, by: 'ada', comment: 'looks good' });
      expect(await refusal(handle.executeUpdate(approvePromotionUpdate, { args: [{ by: 'grace' }] }))).toMatch(
        /^promotion of v\d+ was already approved by ada at /,
      );

      const result = (await handle.result()) as DeployModelResult;
      expect(result.outcome).toBe('production');
      expect(result.previousVersion).toBeNull();
      expect(releases.routed.get(`${model}/production`)?.version).toBe(v1.version);
      expect(await stack.deps.registry.getAliases(model)).toMatchObject({ champion: v1.version });
      const move = (await stack.deps.registry.aliasHistory(model)).find((m) => m.alias === 'champion');
      expect(move).toMatchObject({ by: 'ada', version: v1.version });
      const events = await stack.deps.registry.listDeploymentEvents(model, 'production');
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ outcome: 'production', by: 'ada', decision: { by: 'ada', approved: true } });
    },
  );

  it(
    'blue/green: the second promotion starts the new version beside the old, ' + 'switches, then stops the old',
    async () => {
      const model = 'dm-bluegreen';
      const v1 = await registered(model);
      const v2 = await registered(model);
      for (const version of [v1, v2]) {
        const handle = await start('deploy/dm-bluegreen', {
          model,
          version,
          environment: 'production',
          preApproved: { approved: true, by: 'ada', at: new Date().toISOString() },
        });
        await handle.result();
      }
      const names = (v: VersionRef) => `${model}-production-v${v.version}`;
      const log = releases.log.filter((l) => l.includes(`${model}-production`) || l.includes(`${model}/production`));
      expect(log).toEqual([
        `start ${names(v1)}`,
        `check ${names(v1)}`,
        `route ${model}/production -> ${names(v1)}`,
        `start ${names(v2)}`,
        `check ${names(v2)}`,
        `route ${model}/production -> ${names(v2)}`,
        `stop ${names(v1)}`,
      ]);
      expect(await stack.deps.registry.getAliases(model)).toMatchObject({ champion: v2.version });
    },
  );

  it(
    'a failed check in production rolls back by itself: ' + 'the old version keeps serving and the alias stays',
    async () => {
      const model = 'dm-rollback';
      const v1 = await registered(model);
      const v2 = await registered(model);
      const approved = { approved: true, by: 'ada', at: new Date().toISOString() };
      await (
        await start('deploy/dm-rollback', { model, version: v1, environment: 'production', preApproved: approved })
      ).result();
      releases.failingChecks.add(v2.version);
      const handle = await start('deploy/dm-rollback', {
        model,
        version: v2,
        environment: 'production',
        preApproved: approved,
      });
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(((err as WorkflowFailedError).cause as Error).message).toMatch(
        /rolled back: smoke inference on dm-rollback-production-v\d+ failed/,
      );
      expect(releases.routed.get(`${model}/production`)?.version).toBe(v1.version);
      expect(releases.running.has(`${model}-production-v${v2.version}`)).toBe(false);
      expect(await stack.deps.registry.getAliases(model)).toMatchObject({ champion: v1.version });
      const outcomes = (await stack.deps.registry.listDeploymentEvents(model)).map((e) => e.outcome);
      expect(outcomes).toEqual(['production', 'rolled-back']);
    },
  );

  it('rejection retires the staged candidate; a failed shadow test blocks approval but not rejection', async () => {
    const model = 'dm-reject';
    const version = await registered(model);
    await stack.deps.registry.recordShadowReport({
      key: `shadow-${model}`,
      model,
      version: version.version,
      lifecycleId: 'lifecycle/dm-reject/x',
      passed: false,
      reasons: ['agreement 0.5 is below the minimum 0.9 (5 of 10 messages)'],
      report: {},
    });
    const handle = await start('deploy/dm-reject', { model, version, environment: 'production' });
    const waiting = await awaiting(handle);
    expect(waiting.approval?.blockedBy).toMatch(/failed its shadow test \(agreement 0.5/);
    expect(await refusal(handle.executeUpdate(approvePromotionUpdate, { args: [{ by: 'ada' }] }))).toMatch(
      /^v\d+ cannot be promoted: it failed its shadow test/,
    );
    expect(await refusal(handle.executeUpdate(approvePromotionUpdate, { args: [{ by: '' }] }))).toBe(
      'a promotion decision needs "by": who decides',
    );
    await handle.executeUpdate(rejectPromotionUpdate, { args: [{ by: 'ada', comment: 'not this one' }] });
    const result = (await handle.result()) as DeployModelResult;
    expect(result.outcome).toBe('rejected');
    expect(releases.running.has(`${model}-staging-v${version.version}`)).toBe(false);
    expect(await stack.deps.registry.getAliases(model)).not.toHaveProperty('champion');
  });

  it('a promotion nobody decides expires at its deadline and retires the candidate', async () => {
    const model = 'dm-expire';
    const version = await registered(model);
    const handle = await start('deploy/dm-expire', {
      model,
      version,
      environment: 'production',
      promotion: { timeoutSeconds: 2 },
    });
    const result = (await handle.result()) as DeployModelResult;
    expect(result.outcome).toBe('expired');
    expect(result.error).toMatch(/^no decision before /);
    expect(releases.running.has(`${model}-staging-v${version.version}`)).toBe(false);
  });

  it(
    'a lifecycle goes on from training into staging, ' + 'waits, and an approval sent to the lifecycle promotes it',
    async () => {
      const model = 'dm-lifecycle';
      const repo = await createExampleModelRepo();
      const input: LifecycleInput = {
        model,
        repo: { url: repo.url, ref: 'main', path: repo.path },
        dataset: { path: await createExampleDataset(600) },
        requestedBy: 'olivia',
        trainTaskQueue: stack.queues.train,
        streamTaskQueue: stack.queues.stream,
        deploy: {},
      };
      const handle = await stack.client.workflow.start('modelLifecycle', {
        workflowId: `lifecycle/${model}/${Date.now()}`,
        taskQueue: stack.queues.control,
        args: [input],
      });
      const waiting = await until(
        'the lifecycle to wait for approval',
        async () => {
          const s = await handle.query(statusQuery);
          return s.stage === 'awaiting-approval' ? s : undefined;
        },
        120_000,
      );
      expect(waiting.deploy).toMatchObject({
        phase: 'awaiting-approval',
        environment: 'production',
        version: waiting.version,
      });
      expect(waiting.deploy?.endpoints.staging).toMatch(/^http:/);
      const described = await handle.describe();
      expect(described.typedSearchAttributes.get(searchAttributes.stage)).toBe('awaiting-approval');

      expect(await refusal(handle.executeUpdate(approvePromotionUpdate, { args: [{ by: 'olivia' }] }))).toMatch(
        /may not approve it too/,
      );
      await handle.executeUpdate(approvePromotionUpdate, { args: [{ by: 'ada', comment: 'ship it' }] });
      expect(await refusal(handle.executeUpdate(approvePromotionUpdate, { args: [{ by: 'grace' }] }))).toMatch(
        /already approved by ada/,
      );

      const result = (await handle.result()) as LifecycleResult;
      expect(result.stage).toBe('production');
      expect(result.deployment).toMatchObject({
        outcome: 'production',
        approval: { decision: { by: 'ada', comment: 'ship it' } },
      });
      expect((await handle.describe()).typedSearchAttributes.get(searchAttributes.stage)).toBe('production');
      expect(await stack.deps.registry.getAliases(model)).toMatchObject({ champion: result.version });
      const deployChild = stack.client.workflow.getHandle(`${handle.workflowId}/deploy`);
      expect((await deployChild.describe()).typedSearchAttributes.get(searchAttributes.stage)).toBe(
        'deploy:production',
      );
    },
  );
});
