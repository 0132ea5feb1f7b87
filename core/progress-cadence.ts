/** Live progress at most this often, however young the run. */
export const minProgressIntervalMs = 2_000;
/** And at least this often once the run is old. */
export const maxProgressIntervalMs = 10 * 60_000;

/**
 * How long a run `ageMs` old waits between two progress reports to its lifecycle. Each report
 * lands in the lifecycle's history (a signal takes four events, an Update five), and Temporal
 * ends a workflow whose history reaches 51,200 events: a report every 2 s would fill it in under
 * six hours of training or shadow testing. Every 2 s for the first minute, then a thirtieth of
 * the run's age, at most every 10 minutes: about 1,200 reports in the first week (6,000 events),
 * then 144 a day.
 */
export function progressIntervalMs(ageMs: number): number {
  return Math.min(maxProgressIntervalMs, Math.max(minProgressIntervalMs, ageMs / 30));
}
