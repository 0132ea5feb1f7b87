import fs from 'node:fs/promises';
import path from 'node:path';
import { MloopError } from '../errors';

const isInside = (target: string, root: string): boolean => target === root || target.startsWith(`${root}${path.sep}`);

/**
 * Refuses a checkout that holds a symlink leading outside it (or nowhere): the runtime reads
 * the manifest and the model's files, and must never be pointed at the worker's own files
 * (`mloop.yaml -> /etc/mloop/secrets.yaml`). Every link is followed by the kernel's rules, so
 * chains and `..` after a link are judged where they really end. `.git` is git's, not the model's.
 */
export async function assertNoEscapingSymlinks(checkout: string): Promise<void> {
  const root = await fs.realpath(checkout);
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop() as string;
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (dir === root && entry.name === '.git') continue;
      if (entry.isDirectory()) pending.push(full);
      if (!entry.isSymbolicLink()) continue;
      const where = path.relative(root, full);
      const refuse = (why: string): MloopError =>
        new MloopError('InvalidModelRepo', `symlink "${where}" in the repository ${why}`, { path: where });
      const target = await fs.realpath(full).catch(() => undefined);
      if (target === undefined) throw refuse('points to nothing (broken or a loop)');
      if (!isInside(target, root)) throw refuse('points outside it');
    }
  }
}
