import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createDeployActivities, type ReleaseManager } from '../../activities/deploy';
import type { Registry } from '../../core/registry/registry';
import type { ReleaseRef } from '../../workflows/definitions';

describe('starting a release', () => {
  it('heartbeats on a timer while a start (an image build) sends no progress note', async () => {
    const release = { name: 'r1' } as unknown as ReleaseRef;
    const slowStart: ReleaseManager['start'] = async () => {
      await new Promise((r) => setTimeout(r, 11_000));
      return release;
    };
    const releases = { start: slowStart } as unknown as ReleaseManager;
    const { startRelease } = createDeployActivities({ releases, registry: {} as Registry });
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const input = {} as Parameters<typeof startRelease>[0];
    await expect(env.run(startRelease, input)).resolves.toBe(release);
    // Every 5 s: two beats in 11 s, though the start itself said nothing.
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(beats[0]).toBe('starting');
  }, 30_000);
});
