/**
 * `--follow`: polls a lifecycle's status and shows its progress until it closes. On a terminal
 * the live lines are redrawn in place; otherwise each line is printed when it changes, so logs
 * of CI jobs stay readable.
 */
import { CliError, exitCodes } from './exit-codes';
import type { ApiClient } from './api-client';
import { paths } from './paths';
import { outcomeOf, progressLines, type LifecycleView } from './lifecycle-view';

export interface FollowOptions {
  intervalMs?: number;
  /** Redraw in place (a terminal) or print changed lines. */
  tty: boolean;
  /** One JSON line per change instead of text. */
  json?: boolean;
  shadowTarget?: number;
  write: (text: string) => void;
  /** How long the API may stay unreachable before following gives up. */
  unreachableForMs?: number;
}

/** Follows until the lifecycle closes and returns its last view. */
export async function followLifecycle(api: ApiClient, id: string, opts: FollowOptions): Promise<LifecycleView> {
  const interval = opts.intervalMs ?? 1000;
  const printed = new Map<string, string>();
  let drawn = 0;
  let lastJson = '';
  let unreachableSince: number | undefined;
  for (;;) {
    let view: LifecycleView;
    try {
      view = await api.get<LifecycleView>(paths.lifecycle(id));
      unreachableSince = undefined;
    } catch (err) {
      // A restarting API is no reason to stop following; a long outage is.
      if (!(err instanceof CliError) || err.exitCode !== exitCodes.unreachable) throw err;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > (opts.unreachableForMs ?? 30_000)) throw err;
      await sleep(interval);
      continue;
    }
    const finished = outcomeOf(view).finished;
    if (opts.json) {
      const line = JSON.stringify(view);
      if (line !== lastJson) opts.write(`${line}\n`);
      lastJson = line;
    } else {
      const lines = progressLines(view, opts.shadowTarget);
      if (opts.tty) {
        // Up to the first line drawn last time, clear to the end, draw again.
        opts.write(`${drawn > 0 ? `\x1b[${drawn}F\x1b[J` : ''}${lines.map(([, t]) => t).join('\n')}\n`);
        drawn = lines.length;
      } else {
        for (const [key, text] of lines) {
          if (printed.get(key) !== text) opts.write(`${text}\n`);
          printed.set(key, text);
        }
      }
    }
    if (finished) return view;
    await sleep(interval);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
