import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes a file only its owner can read (0600, in a 0700 folder it creates), atomically: readers
 * see the old content or the new one, never half of it.
 */
export async function writePrivateFile(file: string, content: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
  const handle = await fs.open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(content, 'utf8');
    // The mode given to open() is reduced by the umask; make sure it is exactly 0600.
    await handle.chmod(0o600);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

const lockWaitMs = 10_000;
// A lock older than this was left by a process that died while holding it.
const staleLockMs = 30_000;

/** Runs `fn` while holding `lockFile`, so that two writers of the same file take turns. */
export async function withFileLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
  await fs.mkdir(path.dirname(lockFile), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + lockWaitMs;
  for (;;) {
    try {
      await (await fs.open(lockFile, 'wx', 0o600)).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await fs.stat(lockFile).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > staleLockMs) await fs.rm(lockFile, { force: true });
      else if (Date.now() > deadline)
        throw new Error(`${lockFile} is held by another process; try again, or remove it if none runs`);
      else await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lockFile, { force: true });
  }
}
