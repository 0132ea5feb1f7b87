import fs from 'node:fs/promises';

const queues = new Map<string, Promise<unknown>>();

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

async function acquire(file: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fs.writeFile(file, String(process.pid), { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(await fs.readFile(file, 'utf8').catch(() => ''));
    // A holder that died (a SIGKILLed worker) leaves its lock behind: take it over. Read again
    // just before removing, so a lock that changed hands meanwhile is left alone.
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
      if (Number(await fs.readFile(file, 'utf8').catch(() => '')) === holder) await fs.rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`could not lock ${file} within ${timeoutMs} ms (held by process ${holder || 'unknown'})`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Runs `fn` while holding the lock file `file`: calls in this process run one after another,
 * other processes wait for the file to go away.
 */
export function withFileLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const previous = queues.get(file) ?? Promise.resolve();
  const run = previous
    .catch(() => undefined)
    .then(async () => {
      await acquire(file, timeoutMs);
      try {
        return await fn();
      } finally {
        await fs.rm(file, { force: true });
      }
    });
  queues.set(file, run);
  void run
    .finally(() => {
      if (queues.get(file) === run) queues.delete(file);
    })
    .catch(() => undefined);
  return run;
}
