import fs from 'node:fs/promises';
import path from 'node:path';
import type { GitCheckouts } from '../core/git/checkout';
import { executionKeys } from './context';

/** Scratch folders and checkouts for activities: one per attempt, removed whatever happens. */
export function createWorkspace(deps: { git: GitCheckouts; workDir: string }) {
  const withScratch = async <T>(fn: (dir: string) => Promise<T>): Promise<T> => {
    const { workflowId, activityId, attempt } = executionKeys();
    const dir = path.join(deps.workDir, `${workflowId}-${activityId}-${attempt}`.replace(/[^A-Za-z0-9._-]/g, '_'));
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { recursive: true });
    try {
      return await fn(dir);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  };

  /** Checks out a pinned commit into `<scratch>/<name>` for the duration of `fn`. */
  const withCheckout = async <T>(
    repoUrl: string,
    commitSha: string,
    scratch: string,
    fn: (checkout: string) => Promise<T>,
    name = 'repo',
  ): Promise<T> => {
    const checkout = path.join(scratch, name);
    await deps.git.materialize(repoUrl, commitSha, checkout);
    try {
      return await fn(checkout);
    } finally {
      await deps.git.release(repoUrl, checkout).catch(() => undefined);
    }
  };

  return { withScratch, withCheckout };
}
