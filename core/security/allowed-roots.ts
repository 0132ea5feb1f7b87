import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config';
import { invalidInput } from '../errors';
import { validateRepoPath } from '../git/repo-source';

/**
 * What a request may touch on this machine: local repositories and datasets must resolve, after
 * following symlinks, into one of the configured roots (MLOOP_ALLOWED_ROOTS; by default the data
 * directory and the bundled examples). The API checks before a workflow starts, and the
 * activities check again, since a workflow can be started through Temporal directly.
 */

// Control characters could smuggle lines into logs and messages; NUL is refused by the OS anyway.
// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u001f\u007f]/;

/**
 * Follows symlinks in the longest part of `p` that exists; the part that does not exist cannot
 * be a link. A path that cannot be resolved at all (a loop, a name too long, a folder closed to
 * this process) is refused: where it leads cannot be checked.
 */
async function resolveExisting(p: string, field: string): Promise<string> {
  const missing: string[] = [];
  let current = p;
  for (;;) {
    try {
      return path.join(await fs.realpath(current), ...missing);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        throw invalidInput(field, `"${p}" cannot be resolved (${code ?? 'error'})`);
      }
      const parent = path.dirname(current);
      if (parent === current) return p;
      missing.unshift(path.basename(current));
      current = parent;
    }
  }
}

const isInside = (target: string, root: string): boolean =>
  target === root || target.startsWith(root.endsWith(path.sep) ? root : `${root}${path.sep}`);

/**
 * Resolves an absolute local path and checks that it lies inside one of `roots`; returns the
 * resolved path. `..` segments are refused outright: after a symlink they need not mean the
 * parent folder the text suggests.
 */
export async function resolveUnderRoots(p: string, roots: readonly string[], field: string): Promise<string> {
  if (controlChars.test(p)) throw invalidInput(field, 'must not contain control characters');
  if (!path.isAbsolute(p)) throw invalidInput(field, `must be an absolute path (got "${p}")`);
  if (p.split(path.sep).includes('..')) throw invalidInput(field, `must not contain ".." segments (got "${p}")`);
  const real = await resolveExisting(path.normalize(p), field);
  const realRoots = await Promise.all(roots.map((r) => resolveExisting(path.resolve(r), 'MLOOP_ALLOWED_ROOTS')));
  if (!realRoots.some((root) => isInside(real, root))) {
    throw invalidInput(
      field,
      `"${p}" is outside the folders this server may read (after following symlinks); ` +
        `allowed: ${roots.join(', ')} (MLOOP_ALLOWED_ROOTS)`,
    );
  }
  return real;
}

/** The local folder a repository URL names, or undefined for remote URLs (https, ssh, scp-like). */
export function localRepoPath(url: string, field = 'repo.url'): string | undefined {
  if (url.startsWith('/')) return url;
  if (!url.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(url);
  } catch {
    throw invalidInput(field, `must be a file:// URL of a folder on this machine (got "${url}")`);
  }
}

export async function checkRepoUrlAllowed(url: string, roots: readonly string[], field = 'repo.url'): Promise<void> {
  const local = localRepoPath(url, field);
  if (local !== undefined) await resolveUnderRoots(local, roots, field);
}

/**
 * The request-level check: the repository (when local) and the dataset file (when given) must
 * be inside `roots`, the configured ones unless given.
 */
export async function checkLocalSources(
  sources: { repoUrl: string; datasetPath?: string | undefined },
  roots: readonly string[] = loadConfig().allowedRoots,
): Promise<void> {
  await checkRepoUrlAllowed(sources.repoUrl, roots);
  if (sources.datasetPath !== undefined) await resolveUnderRoots(sources.datasetPath, roots, 'dataset.path');
}

/**
 * The model's folder inside a checkout: `repoPath` must be relative, without `..`, and must
 * still be inside the checkout once symlinks are followed.
 */
export async function modelDirIn(checkout: string, repoPath: string, field = 'repo.path'): Promise<string> {
  const relative = validateRepoPath(repoPath, field);
  const dir = path.join(checkout, relative);
  const [real, root] = await Promise.all([resolveExisting(dir, field), fs.realpath(checkout)]);
  if (!isInside(real, root)) throw invalidInput(field, `"${repoPath}" leaves the repository through a symlink`);
  return dir;
}
