import { CancelledFailure, type Context } from '@temporalio/activity';
import { describe, expect, it } from 'vitest';
import { workerRegistry } from '../../core/metrics/series';
import { activityMetricsInterceptor } from '../../workers/metrics-interceptor';

/** Runs one attempt of `type` through the interceptor with the context's cancellation state given. */
async function attempt(
  type: string,
  body: () => Promise<unknown>,
  state: { aborted?: boolean; timedOut?: boolean } = {},
): Promise<void> {
  const abort = new AbortController();
  if (state.aborted) abort.abort();
  const ctx = {
    info: { activityType: type, taskQueue: 'q-interceptor' },
    cancellationSignal: abort.signal,
    cancellationDetails: state.timedOut ? { timedOut: true } : undefined,
  } as unknown as Context;
  const execute = activityMetricsInterceptor(ctx).inbound?.execute;
  await execute?.({ args: [], headers: {} }, body).catch(() => undefined);
}

async function countOf(type: string, outcome: string): Promise<number | undefined> {
  const text = await workerRegistry.metrics();
  const series =
    `mloop_activity_duration_seconds_count{activity_type="${type}",` +
    `task_queue="q-interceptor",outcome="${outcome}"}`;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('the activity metrics interceptor', () => {
  it('times every attempt by its outcome', async () => {
    await attempt('ok', async () => 1);
    await attempt('fails', () => Promise.reject(new Error('boom')));
    await attempt('cancelled', () => Promise.reject(new CancelledFailure('CANCELLED')));
    // An activity that turns its cancellation into an error of its own still counts as cancelled.
    await attempt('cancelled-own-error', () => Promise.reject(new Error('shadow test cancelled')), { aborted: true });
    await attempt('timed-out', () => Promise.reject(new Error('stopped')), { aborted: true, timedOut: true });
    expect(await countOf('ok', 'completed')).toBe(1);
    expect(await countOf('fails', 'failed')).toBe(1);
    expect(await countOf('cancelled', 'cancelled')).toBe(1);
    expect(await countOf('cancelled-own-error', 'cancelled')).toBe(1);
    expect(await countOf('timed-out', 'timed_out')).toBe(1);
    expect(await countOf('timed-out', 'cancelled')).toBeUndefined();
  });

  it('passes results and errors through unchanged', async () => {
    const ctx = {
      info: { activityType: 'pass', taskQueue: 'q' },
      cancellationSignal: new AbortController().signal,
    } as unknown as Context;
    const execute = activityMetricsInterceptor(ctx).inbound!.execute!;
    await expect(execute({ args: [], headers: {} }, async () => ({ v: 1 }))).resolves.toEqual({ v: 1 });
    const err = new Error('kept');
    await expect(execute({ args: [], headers: {} }, () => Promise.reject(err))).rejects.toBe(err);
  });
});
