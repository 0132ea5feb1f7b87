import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../core/config';
import { MloopError } from '../../../core/errors';
import { checkLocalSources, modelDirIn, resolveUnderRoots } from '../../../core/security/allowed-roots';
import { tempDir } from '../../helpers/stack';

async function failure(p: Promise<unknown>): Promise<MloopError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof MloopError) return err;
    throw err;
  }
  throw new Error('expected the promise to reject');
}

describe('allowed roots', () => {
  let root: string;
  let outside: string;

  beforeAll(async () => {
    root = await tempDir('roots-allowed');
    outside = await tempDir('roots-outside');
    await fs.writeFile(path.join(root, 'data.csv'), 'x\n1\n');
    await fs.writeFile(path.join(outside, 'secret.csv'), 'DB_PASSWORD\nhunter2\n');
    await fs.mkdir(path.join(root, 'sub'));
    await fs.symlink(path.join(outside, 'secret.csv'), path.join(root, 'link.csv'));
    await fs.symlink(outside, path.join(root, 'sub', 'out'));
    await fs.symlink(path.join(root, 'data.csv'), path.join(outside, 'back-in.csv'));
  });

  it('accepts files inside a root, also ones that do not exist yet, and the root itself', async () => {
    const resolved = await resolveUnderRoots(path.join(root, 'data.csv'), [root], 'dataset.path');
    expect(resolved).toBe(path.join(await fs.realpath(root), 'data.csv'));
    await resolveUnderRoots(path.join(root, 'later', 'data.csv'), [root], 'dataset.path');
    await resolveUnderRoots(root, [root], 'repo.url');
    // A link from outside into a root ends inside it: that is where the bytes come from.
    await resolveUnderRoots(path.join(outside, 'back-in.csv'), [root], 'dataset.path');
  });

  it.each([
    ['a file outside every root', () => path.join(outside, 'secret.csv')],
    ['a symlink inside a root pointing out', () => path.join(root, 'link.csv')],
    ['a path through a symlinked folder', () => path.join(root, 'sub', 'out', 'secret.csv')],
    ['a missing file under a symlinked folder', () => path.join(root, 'sub', 'out', 'new.csv')],
    ['a sibling whose name starts like the root', () => `${root}-other/data.csv`],
  ])('refuses %s, naming the field', async (_name, p) => {
    const err = await failure(resolveUnderRoots(p(), [root], 'dataset.path'));
    expect(err.code).toBe('InvalidInput');
    expect(err.details.field).toBe('dataset.path');
    expect(err.message).toContain('outside the folders this server may read');
  });

  it('refuses, as bad input and never as a crash, paths that cannot be resolved', async () => {
    await fs.symlink('loop-b', path.join(root, 'loop-a'));
    await fs.symlink('loop-a', path.join(root, 'loop-b'));
    const loop = path.join(root, 'loop-a', 'x.csv');
    for (const p of [loop, `/${'a'.repeat(5000)}/x.csv`, `${root}/x\u0000.csv`, `${root}/x\n.csv`]) {
      const err = await failure(resolveUnderRoots(p, [root], 'dataset.path'));
      expect([err.code, err.details.field]).toEqual(['InvalidInput', 'dataset.path']);
    }
  });

  it('refuses relative paths and ".." segments before looking at the disk', async () => {
    expect((await failure(resolveUnderRoots('data.csv', [root], 'dataset.path'))).message).toContain('absolute');
    const dotted = await failure(resolveUnderRoots(`${root}/sub/../data.csv`, [root], 'dataset.path'));
    expect(dotted.message).toContain('".." segments');
  });

  it('checks local repository URLs (paths and file://) and leaves remote ones alone', async () => {
    await checkLocalSources({ repoUrl: 'https://example.com/m.git' }, [root]);
    await checkLocalSources({ repoUrl: 'git@example.com:team/m.git' }, [root]);
    await checkLocalSources({ repoUrl: pathToFileURL(root).href, datasetPath: path.join(root, 'data.csv') }, [root]);
    for (const repoUrl of [outside, pathToFileURL(outside).href, 'file://otherhost/srv/repo']) {
      expect((await failure(checkLocalSources({ repoUrl }, [root]))).details.field).toBe('repo.url');
    }
    const data = await failure(checkLocalSources({ repoUrl: root, datasetPath: path.join(root, 'link.csv') }, [root]));
    expect(data.details.field).toBe('dataset.path');
  });

  it('keeps a model folder inside its checkout', async () => {
    expect(await modelDirIn(root, 'sub')).toBe(path.join(root, 'sub'));
    expect((await failure(modelDirIn(root, '../x'))).details.field).toBe('repo.path');
    expect((await failure(modelDirIn(root, 'sub/out'))).message).toContain('leaves the repository through a symlink');
  });

  it('defaults to the data directory and the bundled examples; MLOOP_ALLOWED_ROOTS replaces them', () => {
    const repoRoot = path.resolve(import.meta.dirname, '../../..');
    const defaults = loadConfig({ MLOOP_DATA: '/srv/mloop' }).allowedRoots;
    expect(defaults).toEqual(['/srv/mloop', path.join(repoRoot, 'examples')]);
    expect(loadConfig({ MLOOP_ALLOWED_ROOTS: '/a:/b/c' }).allowedRoots).toEqual(['/a', '/b/c']);
    expect(() => loadConfig({ MLOOP_ALLOWED_ROOTS: '/a:rel' })).toThrow(
      'MLOOP_ALLOWED_ROOTS: "rel" is not an absolute path',
    );
  });
});
