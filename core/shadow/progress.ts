import { progressIntervalMs } from '../progress-cadence';
import type { ShadowReport } from './metrics';

/**
 * Sends live figures to `onProgress`, one call at a time, at the cadence of `progressIntervalMs`
 * for the test's age (`../progress-cadence.ts`); an unchanged
 * report waits at least 10 s. `onStop` is called when the answer asks to stop (the runner also
 * asks for stop requests on its own, more often than an old test reports).
 */
export function progressReporter(
  current: () => ShadowReport,
  onProgress: ((report: ShadowReport) => Promise<boolean>) | undefined,
  onStop: () => void,
  age: () => number,
  now: () => number = Date.now,
): { send: (force?: boolean) => Promise<void>; due: () => boolean } {
  let lastProgress = -Infinity;
  let lastSent = '';
  let progressing = false;
  const send = async (force = false): Promise<void> => {
    if (!onProgress || progressing) return;
    const r = current();
    const changed = `${r.messages}/${r.labels.joined}/${r.labels.waiting}`;
    if (!force && changed === lastSent && now() - lastProgress < Math.max(10_000, progressIntervalMs(age()))) return;
    progressing = true;
    lastProgress = now();
    lastSent = changed;
    try {
      if (await onProgress(r)) onStop();
    } finally {
      progressing = false;
    }
  };
  return { send, due: () => now() - lastProgress >= progressIntervalMs(age()) };
}
