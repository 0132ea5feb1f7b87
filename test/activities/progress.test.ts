import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { ProgressReporter } from '../../activities/progress';
import type { TrainProgress } from '../../workflows/definitions';

/**
 * The reporter's cadence on a manual clock, with a client that records the signals. The real
 * signals reaching a lifecycle's status are covered by test/workflows/lifecycle-control.int.test.ts.
 */
function recordingClient(sent: TrainProgress[]): Client {
  const handle = { signal: async (_signal: unknown, payload: TrainProgress) => sent.push(payload) };
  return { workflow: { getHandle: () => handle } } as unknown as Client;
}

describe('training progress signals', () => {
  it('keep twelve hours of chatty training far below the history limit, and send phase changes at once', async () => {
    const clock = { now: 0 };
    const sent: TrainProgress[] = [];
    const reporter = new ProgressReporter(recordingClient(sent), 'lifecycle/m/k', () => clock.now);
    reporter.progress({ phase: 'train', status: 'loading' });
    // A log line every 100 ms for 12 hours.
    for (let t = 0; t < 12 * 3600 * 10; t++) {
      clock.now = t * 100;
      reporter.logLine(`epoch ${t}`);
      if (t === 50) reporter.progress({ phase: 'train', status: 'fitting' });
    }
    await reporter.flush();
    // A signal every 2 s would be 21,600 (86,400 events, past Temporal's 51,200).
    expect(sent.length).toBeLessThan(400);
    // When each went: its last line names the tenth of a second.
    const at = sent.map((p) => Number(p.log?.at(-1)?.slice('epoch '.length) ?? 0) * 100);
    expect(at.slice(0, 4)).toEqual([0, 2000, 4000, 5000]);
    expect(sent[3]?.status).toBe('fitting');
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(600_000);
    // The last lines go with the final flush.
    expect(sent.at(-1)?.log?.at(-1)).toBe(`epoch ${12 * 3600 * 10 - 1}`);
  });
});
