import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeHistory } from '../../examples/predictive-maintenance/data/generate-history';
import { tempDir } from './stack';

const exampleModel = path.resolve(import.meta.dirname, '../../examples/predictive-maintenance/model');

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'mloop test',
      GIT_AUTHOR_EMAIL: 'test@mloop.invalid',
      GIT_COMMITTER_NAME: 'mloop test',
      GIT_COMMITTER_EMAIL: 'test@mloop.invalid',
    },
  }).trim();

/**
 * A git repository holding the example model under `models/pm`, one commit on `main`.
 * `overrides` replaces files of the model (path relative to the model folder → new content).
 */
export async function createExampleModelRepo(
  overrides: Record<string, string> = {},
): Promise<{ url: string; path: string; sha: string }> {
  const dir = await tempDir('model-repo');
  await fs.cp(exampleModel, path.join(dir, 'models', 'pm'), { recursive: true });
  for (const [file, content] of Object.entries(overrides))
    await fs.writeFile(path.join(dir, 'models', 'pm', file), content);
  git(dir, 'init', '--quiet', '--initial-branch=main');
  git(dir, 'add', '.');
  git(dir, 'commit', '--quiet', '-m', 'predictive maintenance model');
  return { url: dir, path: 'models/pm', sha: git(dir, 'rev-parse', 'HEAD') };
}

export async function createExampleDataset(rows = 3000, seed = 42): Promise<string> {
  const file = path.join(await tempDir('dataset'), 'history.csv');
  writeHistory(file, rows, seed);
  return file;
}
