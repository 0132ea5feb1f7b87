import { ApplicationFailure } from '@temporalio/common';
import { MloopError } from '../core/errors';

/**
 * Turns domain errors into Temporal failures with the same `type`, so workflows, the Web UI and
 * the API all see one taxonomy. Other errors pass through and are retried by policy.
 */
export function toFailure(err: unknown): unknown {
  if (err instanceof MloopError) {
    return ApplicationFailure.create({
      type: err.code,
      message: err.message,
      nonRetryable: !err.retryable,
      details: [err.details],
    });
  }
  return err;
}

/** Wraps every function of an activity object with `toFailure`. */
export function withFailureMapping<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw toFailure(err);
      }
    };
  }
  return wrapped as T;
}
