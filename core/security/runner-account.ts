import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { MloopError } from '../errors';

/**
 * Model code is whatever a repository holds, so it never runs with the worker's privileges:
 * when the worker runs as root, training and serving processes run as an unprivileged system
 * account (`mloop-runner` by default, created by scripts/setup.sh). Its home belongs to root;
 * the worker gives each process a folder of its own below it (`sandboxes/<id>`), and the
 * worker's scratch space lives there too (`work/<data dir>`), so that model processes can read
 * checkouts while the data directory itself stays private.
 */
export interface RunnerAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

const execFileAsync = promisify(execFile);
const lookups = new Map<string, Promise<RunnerAccount | null>>();

export const runsAsRoot = (): boolean => process.getuid?.() === 0;

/** The account model code runs as, or null when the worker is not root (it then runs as the worker). */
export function runnerAccount(name: string): Promise<RunnerAccount | null> {
  if (!runsAsRoot()) return Promise.resolve(null);
  let found = lookups.get(name);
  if (!found) {
    found = lookUp(name);
    // A failed lookup is not kept: setup may create the account while the worker runs.
    found.catch(() => lookups.delete(name));
    lookups.set(name, found);
  }
  return found;
}

async function lookUp(name: string): Promise<RunnerAccount> {
  const missing = (why: string): MloopError =>
    new MloopError(
      'ToolchainMissing',
      `the worker runs as root, so model code runs as the unprivileged user "${name}", but ${why}; ` +
        'scripts/setup.sh creates it (MLOOP_RUNNER_USER names another)',
    );
  let entry: string;
  try {
    // getent asks every account database (NSS), not only /etc/passwd.
    entry = (await execFileAsync('getent', ['passwd', name], { encoding: 'utf8' })).stdout.trim();
  } catch {
    throw missing('that user does not exist');
  }
  const [, , uid, gid, , home] = entry.split(':');
  const account = { name, uid: Number(uid), gid: Number(gid), home: home ?? '' };
  if (!Number.isInteger(account.uid) || !Number.isInteger(account.gid)) {
    throw missing(`its entry "${entry}" is unreadable`);
  }
  if (account.uid === 0 || account.gid === 0) throw missing('it is a root account');
  if (!path.isAbsolute(account.home)) throw missing(`its home "${account.home}" is not an absolute path`);
  await assertRootOnly(account.home, missing);
  return account;
}

/**
 * The worker creates folders and changes owners below the runner's home; if the runner could
 * rename entries there, it could point those operations anywhere. So the home and every folder
 * above it must belong to root and be writable by no one else.
 */
async function assertRootOnly(dir: string, missing: (why: string) => MloopError): Promise<void> {
  for (let d = dir; ; d = path.dirname(d)) {
    const st = await fs.lstat(d).catch(() => undefined);
    if (!st) throw missing(`its home ${dir} does not exist`);
    if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
      throw missing(`${d} must be a folder owned by root and writable by no one else (chown root: and chmod go-w it)`);
    }
    if (path.dirname(d) === d) return;
  }
}

/** A folder below the runner's home that root owns and the runner may only pass through. */
export async function runnerSubdir(account: RunnerAccount, name: 'sandboxes' | 'work'): Promise<string> {
  const dir = path.join(account.home, name);
  await fs.mkdir(dir, { recursive: true, mode: 0o711 });
  const st = await fs.lstat(dir);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new MloopError('ToolchainMissing', `${dir} must be a folder owned by root and writable by no one else`);
  }
  return dir;
}

/**
 * Where the worker keeps checkouts and scratch files: `<data dir>/work`, or, when model code
 * runs as the runner account, a folder named after the data directory below the runner's
 * home, so checkouts are readable by model processes without opening the data directory.
 */
export async function scratchRoot(dataDir: string, account: RunnerAccount | null): Promise<string> {
  if (!account) return path.join(dataDir, 'work');
  return path.join(await runnerSubdir(account, 'work'), path.resolve(dataDir));
}
