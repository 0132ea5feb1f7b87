import { describe, expect, it } from 'vitest';
import { manualClock, newVersion, openTestRegistry } from '../../helpers/registry';

const minute = 60_000;

describe('alert dedupe and retraining episodes in the registry', () => {
  it('publishes a finding once per dedupe window, again after it, and again to a retry of the same check', async () => {
    const clock = manualClock('2026-12-01T10:00:00.000Z');
    const registry = await openTestRegistry('alert-claims', clock.now);
    expect(await registry.claimAlerts('r1', [], 60 * minute)).toEqual([]);
    expect(await registry.claimAlerts('r1', ['a', 'b', 'a'], 60 * minute)).toEqual(['a', 'b']);
    // The same check retried: it publishes what it claimed again rather than lose it.
    expect(await registry.claimAlerts('r1', ['a', 'b'], 60 * minute)).toEqual(['a', 'b']);
    clock.set('2026-12-01T10:59:59.999Z');
    expect(await registry.claimAlerts('r2', ['a', 'c'], 60 * minute)).toEqual(['c']);
    clock.set('2026-12-01T11:00:00.000Z');
    // Exactly one window after its publication a finding may go out again.
    expect(await registry.claimAlerts('r3', ['a', 'b', 'c'], 60 * minute)).toEqual(['a', 'b']);
    await registry.close();
  });

  it('ten checks claiming the same finding at once: one wins', async () => {
    const registry = await openTestRegistry('alert-claims-race');
    const claims = await Promise.all(
      Array.from({ length: 10 }, (_, i) => registry.claimAlerts(`r${i}`, ['k'], 60 * minute)),
    );
    expect(claims.flat()).toEqual(['k']);
    await registry.close();
  });

  it(
    'one retraining episode per cool-down: checks within it join it, ' +
      'a retry of the opener reopens it, a later one opens a new one',
    async () => {
      const clock = manualClock('2026-12-01T10:00:00.000Z');
      const registry = await openTestRegistry('episodes', clock.now);
      await registry.registerVersion(newVersion('pm', 'pm-1'));
      const scope = (reportId: string) => ({ model: 'pm', environment: 'production', version: 1, reportId });
      const idFor = (at: Date) => `lifecycle/pm/drift-${at.toISOString()}`;
      const first = await registry.claimRetrainingEpisode(scope('r1'), 30 * minute, idFor);
      expect(first).toEqual({
        workflowId: 'lifecycle/pm/drift-2026-12-01T10:00:00.000Z',
        reportId: 'r1',
        startedAt: '2026-12-01T10:00:00.000Z',
        opened: true,
      });
      clock.set('2026-12-01T10:29:00.000Z');
      expect(await registry.claimRetrainingEpisode(scope('r2'), 30 * minute, idFor)).toMatchObject({
        workflowId: first.workflowId,
        opened: false,
      });
      expect(await registry.claimRetrainingEpisode(scope('r1'), 30 * minute, idFor)).toMatchObject({
        workflowId: first.workflowId,
        opened: true,
      });
      // Another environment has episodes of its own.
      const staging = await registry.claimRetrainingEpisode(
        { ...scope('r9'), environment: 'staging' },
        30 * minute,
        idFor,
      );
      expect(staging).toMatchObject({ opened: true, workflowId: 'lifecycle/pm/drift-2026-12-01T10:29:00.000Z' });
      clock.set('2026-12-01T10:30:00.001Z');
      const next = await registry.claimRetrainingEpisode(scope('r3'), 30 * minute, idFor);
      expect(next).toMatchObject({ workflowId: 'lifecycle/pm/drift-2026-12-01T10:30:00.001Z', opened: true });
      const racing = await Promise.all(
        ['r4', 'r5', 'r6'].map((r) => registry.claimRetrainingEpisode(scope(r), 30 * minute, idFor)),
      );
      expect(racing.map((e) => [e.workflowId, e.opened])).toEqual(racing.map(() => [next.workflowId, false]));
      await registry.close();
    },
  );
});
