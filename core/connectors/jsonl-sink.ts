import fs from 'node:fs/promises';
import path from 'node:path';
import type { JsonlSink } from '../pipeline/spec';
import type { SinkWriter } from './sink-runner';

/**
 * Appends each record's value as one line of a JSONL file, exactly once: after every append
 * (fsync'ed) a sidecar `<file>.offsets` records the file's length and each partition's next
 * offset. On start, a file longer than its sidecar says (a crash between the two) is cut back,
 * and records the sidecar already covers are skipped. A missing or unwritable folder makes
 * the write throw, and the records wait until it can be written again. One sink process per
 * file.
 */
interface Sidecar {
  size: number;
  offsets: Record<string, string>;
}

export function createJsonlSink(spec: Pick<JsonlSink, 'path'>): SinkWriter {
  const file = path.resolve(spec.path);
  const sidecarPath = `${file}.offsets`;
  let sidecar: Sidecar | null = null;
  // One file, written by every partition's batches in turn.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const load = async (): Promise<Sidecar> => {
    try {
      const s = JSON.parse(await fs.readFile(sidecarPath, 'utf8')) as Sidecar;
      const size = (await fs.stat(file).catch(() => null))?.size ?? 0;
      if (size > s.size) await fs.truncate(file, s.size);
      return s;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return { size: (await fs.stat(file).catch(() => null))?.size ?? 0, offsets: {} };
      throw err;
    }
  };

  return {
    acquire: () =>
      serial(async () => {
        sidecar = await load();
      }),
    write: (rows) =>
      serial(async () => {
        sidecar ??= await load();
        const s = sidecar;
        const todo = rows.filter(({ record }) => {
          const next = s.offsets[String(record.partition)];
          return next === undefined || BigInt(record.offset) >= BigInt(next);
        });
        if (todo.length === 0) return [];
        const text = todo.map(({ record }) => `${record.value.replace(/\n/g, ' ')}\n`).join('');
        const handle = await fs.open(file, 'a');
        try {
          await handle.write(text);
          await handle.sync();
        } finally {
          await handle.close();
        }
        const offsets = { ...s.offsets };
        for (const { record } of todo) offsets[String(record.partition)] = (BigInt(record.offset) + 1n).toString();
        const next: Sidecar = { size: s.size + Buffer.byteLength(text), offsets };
        const tmp = `${sidecarPath}.tmp`;
        await fs.writeFile(tmp, JSON.stringify(next));
        await fs.rename(tmp, sidecarPath);
        sidecar = next;
        return [];
      }),
  };
}
