import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import { MloopError } from '../errors';

const run = promisify(execFile);

export interface WheelhouseOptions {
  /** A Python with pip (the engine's venv), run on the host. */
  python: string;
  /** The host-side wheelhouse ($MLOOP_CACHE/wheelhouse). */
  dir: string;
  /** The Python of the image the wheels are for, e.g. "3.11". */
  pythonVersion: string;
  /** Fill the wheelhouse from the package index when a requirement is missing (true). */
  download?: boolean;
}

const pipTail = (err: unknown): string => {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim().split('\n').slice(-8).join('\n');
};

/**
 * Copies the wheels that `requirements` need (every file's pins, resolved together) from the
 * wheelhouse into `into`, without any package index: what an image build then installs with
 * `pip install --no-index`. When the wheelhouse lacks some, they are downloaded into it once
 * (on the host, which reaches the package index; images are built offline).
 */
export async function collectWheels(opts: WheelhouseOptions, requirements: string[], into: string): Promise<string[]> {
  const target = ['--only-binary=:all:', '--python-version', opts.pythonVersion, '--implementation', 'cp'];
  const reqs = requirements.flatMap((r) => ['-r', r]);
  const pip = (args: string[]) =>
    run(opts.python, ['-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', ...target, ...args, ...reqs], {
      maxBuffer: 16 * 1024 * 1024,
    });
  await fs.mkdir(opts.dir, { recursive: true });
  await fs.mkdir(into, { recursive: true });
  try {
    await pip(['--no-index', '--find-links', opts.dir, '-d', into]);
  } catch (offline) {
    if (opts.download === false) {
      throw new MloopError(
        'DeploymentFailed',
        `the wheelhouse ${opts.dir} lacks wheels for ${requirements.join(', ')}:\n${pipTail(offline)}`,
      );
    }
    try {
      await pip(['-d', opts.dir]);
      await pip(['--no-index', '--find-links', opts.dir, '-d', into]);
    } catch (online) {
      throw new MloopError(
        'DeploymentFailed',
        `no wheels for Python ${opts.pythonVersion} satisfy ${requirements.join(', ')}:\n${pipTail(online)}`,
        { requirements },
      );
    }
  }
  return (await fs.readdir(into)).filter((f) => f.endsWith('.whl')).sort();
}
