import { CancelledFailure } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { recordActivity, type ActivityOutcome } from '../core/metrics/series';

/**
 * Times every activity attempt into `mloop_activity_duration_seconds` by activity type, task
 * queue and outcome. An attempt that ends after the server gave it up (a heartbeat or start-to-close
 * timeout) counts as timed out, one whose cancellation was requested as cancelled, whatever error
 * the activity turned them into.
 */
export const activityMetricsInterceptor: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const started = performance.now();
      let outcome: ActivityOutcome = 'failed';
      try {
        const result = await next(input);
        outcome = 'completed';
        return result;
      } catch (err) {
        if (ctx.cancellationDetails?.timedOut) outcome = 'timed_out';
        else if (err instanceof CancelledFailure || ctx.cancellationSignal.aborted) outcome = 'cancelled';
        throw err;
      } finally {
        recordActivity(ctx.info.activityType, ctx.info.taskQueue, outcome, (performance.now() - started) / 1000);
      }
    },
  },
});
