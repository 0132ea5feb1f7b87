import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArtifactStore } from '../../../core/artifacts/store';
import { tempDir } from '../../helpers/stack';

describe('content-addressed artifact store', () => {
  it('names a file by its sha256, stores it once and verifies it', async () => {
    const dir = await tempDir('store');
    const store = new ArtifactStore(path.join(dir, 'artifacts'));
    const file = path.join(dir, 'model.bin');
    await fs.writeFile(file, 'model bytes');
    const expected = `sha256:${createHash('sha256').update('model bytes').digest('hex')}`;

    const a = await store.put(file);
    const b = await store.put(file);
    expect(a.digest).toBe(expected);
    expect(b).toEqual(a);
    expect(a.sizeBytes).toBe(11);
    expect(await store.verify(expected)).toBe(true);
    expect(await fs.readFile(store.pathOf(expected), 'utf8')).toBe('model bytes');
    const leftovers = (await fs.readdir(path.dirname(a.path))).filter((f) => f.includes('.tmp-'));
    expect(leftovers).toEqual([]);
  });

  it('refuses malformed digests', () => {
    const store = new ArtifactStore('/nowhere');
    expect(() => store.pathOf('md5:abc')).toThrow('not a sha256 digest');
  });
});
