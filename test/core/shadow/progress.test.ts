import { describe, expect, it } from 'vitest';
import { progressIntervalMs } from '../../../core/progress-cadence';
import { progressReporter } from '../../../core/shadow/progress';
import type { ShadowReport } from '../../../core/shadow/metrics';

/** A shadow test's reporter driven as the runner drives it (a tick a second) on a manual clock. */
async function simulate(seconds: number, changing: boolean): Promise<{ sent: number[]; stopped: boolean }> {
  let now = 0;
  let messages = 0;
  const sent: number[] = [];
  let stopped = false;
  const current = (): ShadowReport => ({ messages, labels: { joined: 0, waiting: 0 } }) as unknown as ShadowReport;
  const reporter = progressReporter(
    current,
    async () => {
      sent.push(now);
      return false;
    },
    () => (stopped = true),
    () => now,
    () => now,
  );
  for (let t = 0; t < seconds; t++) {
    now = t * 1000;
    if (changing) messages++;
    if (reporter.due()) await reporter.send();
  }
  return { sent, stopped };
}

describe('shadow progress reports', () => {
  it('report every 2 s for the first minute, then a thirtieth of the age, at most every 10 minutes', async () => {
    expect(progressIntervalMs(0)).toBe(2_000);
    expect(progressIntervalMs(60_000)).toBe(2_000);
    expect(progressIntervalMs(3_600_000)).toBe(120_000);
    expect(progressIntervalMs(7 * 86_400_000)).toBe(600_000);
    const { sent } = await simulate(120, true);
    expect(sent.slice(0, 5)).toEqual([0, 2000, 4000, 6000, 8000]);
  });

  it('keep a week-long test of busy traffic far below the history limit (5 events a report)', async () => {
    const week = (await simulate(7 * 86_400, true)).sent;
    // 51,200 events is Temporal's limit; a report every 2 s would be 302,400 reports.
    expect(week.length).toBeLessThan(1_300);
    expect(week.length * 5).toBeLessThan(10_240);
    const gaps = week.slice(1).map((t, i) => t - (week[i] as number));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(600_000);
  });

  it('send an unchanged report at most every 10 s, and less often as the test ages', async () => {
    const idle = (await simulate(3_600, false)).sent;
    expect(idle.slice(0, 3)).toEqual([0, 10_000, 20_000]);
    expect(idle.length).toBeLessThan(3_600 / 10);
  });
});
