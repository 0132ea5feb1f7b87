import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MloopError } from '../../../core/errors';
import { GitCheckouts } from '../../../core/git/checkout';
import { tempDir } from '../../helpers/stack';

const identity = ['-c', 'user.name=t', '-c', 'user.email=t@mloop.invalid'];
const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', [...identity, ...args], { cwd, encoding: 'utf8' }).trim();

/** A repository with one commit holding `links` (name → link target) beside an mloop.yaml. */
async function repoWithLinks(links: Record<string, string>): Promise<{ url: string; sha: string }> {
  const dir = await tempDir('symlink-repo');
  await fs.mkdir(path.join(dir, 'model'));
  await fs.writeFile(path.join(dir, 'model', 'train.py'), 'def train(X, y, params):\n    pass\n');
  for (const [name, target] of Object.entries(links)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.symlink(target, path.join(dir, name));
  }
  git(dir, 'init', '--quiet', '--initial-branch=main');
  git(dir, 'add', '.');
  git(dir, 'commit', '--quiet', '-m', 'model');
  return { url: dir, sha: git(dir, 'rev-parse', 'HEAD') };
}

async function materializeError(links: Record<string, string>): Promise<{ err: unknown; dest: string }> {
  const repo = await repoWithLinks(links);
  const checkouts = new GitCheckouts(await tempDir('symlink-cache'), [os.tmpdir()]);
  const dest = path.join(await tempDir('symlink-checkout'), 'repo');
  const err = await checkouts.materialize(repo.url, repo.sha, dest).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err, dest };
}

describe('symlinks in a checkout', () => {
  it('allows links that stay inside the checkout', async () => {
    const { err, dest } = await materializeError({
      'model/mloop.yaml': '../config/mloop.yaml',
      'config/mloop.yaml': '../model/train.py',
    });
    expect(err).toBeUndefined();
    expect(await fs.readFile(path.join(dest, 'model', 'mloop.yaml'), 'utf8')).toContain('def train');
  });

  it.each([
    ['an absolute link to a secret', { 'model/mloop.yaml': '/etc/passwd' }, 'points outside it'],
    ['a relative link climbing out', { 'model/data': '../../../..' }, 'points outside it'],
    // `up` is the checkout itself, so `up/..` is its parent although the text reads as inside.
    ['".." after a link to the checkout', { up: '.', 'model/escape': '../up/..' }, 'points outside it'],
    ['a broken link', { 'model/gone': 'no-such-file' }, 'points to nothing'],
    ['a loop', { 'model/a': 'b', 'model/b': 'a' }, 'points to nothing'],
  ])('refuses %s as InvalidModelRepo and leaves no checkout behind', async (_name, links, reason) => {
    const { err, dest } = await materializeError(links);
    expect(err).toBeInstanceOf(MloopError);
    expect((err as MloopError).code).toBe('InvalidModelRepo');
    expect((err as MloopError).message).toContain(reason);
    expect((err as MloopError).message).not.toContain('root:');
    await expect(fs.stat(dest)).rejects.toThrow();
  });

  it('refuses a local repository outside the allowed roots before git reads it', async () => {
    const repo = await repoWithLinks({});
    const checkouts = new GitCheckouts(await tempDir('symlink-cache'), ['/nonexistent-root']);
    const err = await checkouts.resolve(repo.url, 'main').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as MloopError).code).toBe('InvalidInput');
    expect((err as MloopError).details.field).toBe('repo.url');
  });
});
