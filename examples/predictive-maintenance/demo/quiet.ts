/** What a run leaves for the next: its retraining lifecycle and when its injected drift ended. */
export interface LastRun {
  retraining?: string;
  driftEndedAt?: string;
}

/**
 * When the next run may check for drift: once the previous run's injected readings left the
 * window and its retraining's cool-down ended, so the baseline check sees no drift and the new
 * injection opens a drift episode (and an alert) of its own. Never earlier than `now`.
 */
export function quietAfter(
  last: LastRun,
  settings: { windowMinutes: number; cooldownMinutes: number },
  now: Date,
): Date {
  const ended = last.driftEndedAt ? Date.parse(last.driftEndedAt) : NaN;
  if (!Number.isFinite(ended)) return now;
  const wait = Math.max(settings.windowMinutes, settings.cooldownMinutes) * 60_000 + 5_000;
  return new Date(Math.max(now.getTime(), ended + wait));
}
