import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

export interface StoredArtifact {
  /** `sha256:<hex>` */
  digest: string;
  sizeBytes: number;
  path: string;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * Content-addressed artifact store: a file's bytes decide its name (`sha256/ab/abcd…`), so storing
 * the same bytes twice is a no-op and a stored file can always be verified against its name.
 */
export class ArtifactStore {
  /** `extension` is appended to stored names, for readers that go by it (e.g. `.csv` datasets). */
  constructor(
    readonly root: string,
    private readonly extension = '',
  ) {}

  pathOf(digest: string): string {
    const hex = parseDigest(digest);
    return path.join(this.root, 'sha256', hex.slice(0, 2), `${hex}${this.extension}`);
  }

  async put(file: string): Promise<StoredArtifact> {
    const hex = await sha256File(file);
    const digest = `sha256:${hex}`;
    const dest = this.pathOf(digest);
    const { size } = await fs.stat(file);
    if (!(await exists(dest))) {
      await fs.mkdir(path.dirname(dest), { recursive: true });
      // Copy to a temporary name first: a crash never leaves a partial file under a digest name.
      const tmp = `${dest}.tmp-${randomUUID()}`;
      await fs.copyFile(file, tmp);
      await fs.chmod(tmp, 0o444);
      await fs.rename(tmp, dest);
    }
    return { digest, sizeBytes: size, path: dest };
  }

  async has(digest: string): Promise<boolean> {
    return exists(this.pathOf(digest));
  }

  /** Re-hashes a stored artifact; true when its bytes still match its name. */
  async verify(digest: string): Promise<boolean> {
    const file = this.pathOf(digest);
    if (!(await exists(file))) return false;
    return `sha256:${await sha256File(file)}` === digest;
  }
}

function parseDigest(digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m?.[1]) throw new Error(`not a sha256 digest: "${digest}"`);
  return m[1];
}

const exists = (p: string): Promise<boolean> =>
  fs.stat(p).then(
    () => true,
    () => false,
  );
