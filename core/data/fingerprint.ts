import fs from 'node:fs/promises';
import { sha256File } from '../artifacts/store';
import { MloopError } from '../errors';

/** `sha256:<hex>` of a dataset file's bytes; a missing or unreadable file is the caller's error. */
export async function fingerprintDataset(file: string): Promise<string> {
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat?.isFile())
    throw new MloopError('DatasetInvalid', `dataset.path: no readable file at "${file}"`, { path: file });
  return `sha256:${await sha256File(file)}`;
}
