import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { MloopError } from '../errors';
import { checkRepoUrlAllowed } from '../security/allowed-roots';
import { assertNoEscapingSymlinks } from '../security/checkout-symlinks';
import { isCommitSha, validateRef, validateRepoUrl } from './repo-source';

/**
 * Keeps one bare mirror per repository URL in a cache folder, resolves refs to commit SHAs, and
 * materialises a commit as a detached worktree. Only file, https and ssh transports are allowed,
 * enforced by git itself as well as by validation; a local repository must lie inside
 * `allowedRoots`, and a checkout whose symlinks lead outside it is refused.
 */
export class GitCheckouts {
  constructor(
    private readonly cacheDir: string,
    private readonly allowedRoots: readonly string[],
  ) {}

  private git(baseDir?: string): SimpleGit {
    // GIT_ALLOW_PROTOCOL is git's own allow-list: remote helpers such as ext:: never run.
    // A minimal environment: no editor, pager or askpass hooks from the worker's shell reach git.
    return simpleGit({ baseDir }).env({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      ...(process.env.SSH_AUTH_SOCK ? { SSH_AUTH_SOCK: process.env.SSH_AUTH_SOCK } : {}),
      GIT_ALLOW_PROTOCOL: 'file:https:ssh',
      GIT_TERMINAL_PROMPT: '0',
    });
  }

  private mirrorDir(url: string): string {
    return path.join(this.cacheDir, 'git', createHash('sha256').update(url).digest('hex').slice(0, 32));
  }

  /** Makes sure a mirror of `url` exists and has `ref`; returns the mirror's folder. */
  async sync(url: string, ref: string): Promise<string> {
    validateRepoUrl(url);
    validateRef(ref);
    await checkRepoUrlAllowed(url, this.allowedRoots);
    const dir = this.mirrorDir(url);
    const exists = await fs.stat(path.join(dir, 'HEAD')).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await fs.mkdir(path.dirname(dir), { recursive: true });
      const tmp = `${dir}.tmp-${randomUUID()}`;
      try {
        await this.git().clone(url, tmp, ['--mirror', '--quiet']);
      } catch (err) {
        await fs.rm(tmp, { recursive: true, force: true });
        throw new MloopError('InvalidModelRepo', `cannot clone ${url}: ${firstLine(err)}`, { url });
      }
      // Another process may have won the race; its mirror is as good as ours.
      await fs.rename(tmp, dir).catch(async () => fs.rm(tmp, { recursive: true, force: true }));
      return dir;
    }
    if (!(isCommitSha(ref) && (await this.hasCommit(dir, ref)))) {
      try {
        await this.git(dir).fetch(['--prune', '--quiet', 'origin']);
      } catch (err) {
        throw new MloopError('InvalidModelRepo', `cannot fetch ${url}: ${firstLine(err)}`, { url });
      }
    }
    return dir;
  }

  private async hasCommit(dir: string, sha: string): Promise<boolean> {
    try {
      await this.git(dir).raw(['cat-file', '-e', `${sha}^{commit}`]);
      return true;
    } catch {
      return false;
    }
  }

  /** Resolves a branch, tag or SHA to the full commit SHA it names now. */
  async resolve(url: string, ref: string): Promise<string> {
    const dir = await this.sync(url, ref);
    try {
      const sha = (await this.git(dir).raw(['rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`])).trim();
      if (!isCommitSha(sha)) throw new Error(`unexpected rev-parse output "${sha}"`);
      return sha;
    } catch {
      throw new MloopError('InvalidModelRepo', `ref "${ref}" does not name a commit in ${url}`, { url, ref });
    }
  }

  /** Checks out `sha` of `url` into `dest` (which must not exist) as a detached worktree. */
  async materialize(url: string, sha: string, dest: string): Promise<void> {
    if (!isCommitSha(sha))
      throw new MloopError('InvalidInput', `commit must be a full 40-character SHA (got "${sha}")`);
    const dir = await this.sync(url, sha);
    await fs.mkdir(path.dirname(dest), { recursive: true });
    try {
      await this.git(dir).raw(['worktree', 'add', '--detach', '--quiet', dest, sha]);
    } catch (err) {
      throw new MloopError('InvalidModelRepo', `cannot check out ${sha} of ${url}: ${firstLine(err)}`, { url, sha });
    }
    try {
      await assertNoEscapingSymlinks(dest);
    } catch (err) {
      await this.release(url, dest);
      throw err;
    }
  }

  async release(url: string, dest: string): Promise<void> {
    const dir = this.mirrorDir(url);
    await this.git(dir)
      .raw(['worktree', 'remove', '--force', dest])
      .catch(() => undefined);
    await fs.rm(dest, { recursive: true, force: true });
    await this.git(dir)
      .raw(['worktree', 'prune'])
      .catch(() => undefined);
  }
}

const firstLine = (err: unknown): string =>
  (err instanceof Error ? err.message : String(err)).trim().split('\n')[0] ?? '';
