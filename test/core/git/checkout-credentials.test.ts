import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GitCheckouts } from '../../../core/git/checkout';
import { tempDir } from '../../helpers/stack';

// A workflow started straight through Temporal skips the API; the checkout refuses the URL itself.
describe('git checkouts of URLs with credentials', () => {
  it.each(['https://deploy:pa55word@git.example/m.git', 'https://ghp_t0ken@github.com/a/m.git'])(
    'refuses %s before git runs, so no mirror or git config keeps it',
    async (url) => {
      const cache = await tempDir('checkout-credentials');
      const git = new GitCheckouts(cache, [cache]);
      const error = await git.resolve(url, 'main').then(
        () => undefined,
        (err: unknown) => err as Error,
      );
      expect(error?.message).toMatch(/^repo\.url: must not contain credentials/);
      expect(error?.message).not.toMatch(/pa55word|t0ken/);
      expect(await fs.readdir(cache)).toEqual([]);
      await expect(fs.stat(path.join(cache, 'git'))).rejects.toThrow();
    },
  );
});
