import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driftScheduleId, type DeployModelInput, type VersionRef } from '../../workflows/definitions';
import { RecordingReleases } from '../helpers/recording-releases';
import { newVersion } from '../helpers/registry';
import { startTestStack, type TestStack } from '../helpers/stack';

/**
 * The drift schedule follows production: a promotion creates it (or brings it to the settings),
 * a rollback pauses it with a note saying why, a retirement removes it. Releases are kept in
 * memory: the schedule's life is what is under test.
 */
describe('drift schedules at promotion, rollback and retirement (real Temporal)', () => {
  let stack: TestStack;
  const model = `ds-${randomUUID().slice(0, 8)}`;
  const scheduleId = driftScheduleId(model, 'production');
  const approved = { approved: true, by: 'ada', at: new Date().toISOString() };

  beforeAll(async () => {
    stack = await startTestStack('drift-schedules', { releases: new RecordingReleases() });
  });
  afterAll(async () => {
    await stack?.client.schedule
      .getHandle(scheduleId)
      .delete()
      .catch(() => undefined);
    await stack?.stop();
  });

  async function registered(key: string): Promise<VersionRef> {
    const v = await stack.deps.registry.registerVersion(newVersion(model, `${model}-${key}`));
    return {
      version: v.version,
      commitSha: v.commitSha,
      repoUrl: v.repoUrl,
      repoPath: v.repoPath,
      artifactDigest: v.artifactDigest,
    };
  }
  const deploy = async (version: VersionRef, extra: Partial<DeployModelInput> = {}) =>
    (
      await stack.client.workflow.start('deployModel', {
        workflowId: `deploy/${model}/production/${randomUUID()}`,
        taskQueue: stack.queues.control,
        args: [{ model, version, environment: 'production', requestedBy: 'olivia', preApproved: approved, ...extra }],
      })
    ).result();
  const schedule = () => stack.client.schedule.getHandle(scheduleId).describe();

  it('creates the schedule at the first promotion, updates it at the next, pauses it on rollback', async () => {
    const v1 = await registered('1');
    const v2 = await registered('2');
    await deploy(v1);
    const created = await schedule();
    expect(created.state.paused).toBe(false);
    expect(created.spec.intervals?.map((i) => i.every)).toEqual([15 * 60_000]);
    expect(created.policies).toMatchObject({ overlap: 'SKIP', catchupWindow: 15 * 60_000 });
    expect(created.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'driftCheck',
      workflowId: scheduleId,
      taskQueue: stack.queues.control,
      args: [{ model, environment: 'production', requestedBy: 'schedule' }],
    });

    await stack.deps.registry.updateMonitoringSettings(model, 'olivia', () => ({ intervalMinutes: 5 }));
    await deploy(v2);
    const updated = await schedule();
    expect(updated.spec.intervals?.map((i) => i.every)).toEqual([5 * 60_000]);
    expect(updated.policies.catchupWindow).toBe(5 * 60_000);
    expect(updated.state.paused).toBe(false);

    await deploy(v1, { rollbackOf: v2.version, reason: 'rollback from v2: bad' });
    const rolledBack = await schedule();
    expect(rolledBack.state.paused).toBe(true);
    expect(rolledBack.state.note).toBe(
      `paused by the rollback from v${v2.version} to v${v1.version}; ` +
        `resume with PATCH /v1/models/${model}/monitoring {"paused": false}`,
    );
    // A later promotion watches the new version again.
    await deploy(v2);
    expect((await schedule()).state.paused).toBe(false);
  });

  it('retirement removes the schedule; retiring again is fine', async () => {
    for (let i = 0; i < 2; i++) {
      await (
        await stack.client.workflow.start('retireDeployment', {
          workflowId: `retire/${model}/production/${randomUUID()}`,
          taskQueue: stack.queues.control,
          args: [{ model, environment: 'production', version: 2, by: 'olivia' }],
        })
      ).result();
      const err = await schedule().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as Error).name).toBe('ScheduleNotFoundError');
    }
  });
});
