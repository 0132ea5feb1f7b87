import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTokens } from '../../../core/auth/load';
import { addToken, ensureLocalTokens, localSubject, readTokenFileSync, TokenFile } from '../../../core/auth/token-file';
import { generateToken, hashToken } from '../../../core/auth/token-store';
import { tempDir } from '../../helpers/stack';

const modeOf = async (p: string): Promise<number> => (await fs.stat(p)).mode & 0o777;

describe('token file', () => {
  it('on first start writes a token for the local user with every role, readable only by its owner', async () => {
    const dir = await tempDir('auth-first-start');
    const tokensFile = path.join(dir, 'auth', 'tokens.json');
    const cliTokenFile = path.join(dir, 'auth', 'cli-token');
    const loaded = await loadTokens({ tokensFile, cliTokenFile, bootstrap: true });
    expect(loaded.created).toBe(true);
    expect(loaded.count).toBe(1);
    expect(await modeOf(tokensFile)).toBe(0o600);
    expect(await modeOf(cliTokenFile)).toBe(0o600);
    expect(await modeOf(path.join(dir, 'auth'))).toBe(0o700);

    const token = (await fs.readFile(cliTokenFile, 'utf8')).trim();
    expect(loaded.verifier.authenticate(token)).toEqual({
      subject: localSubject(),
      roles: ['viewer', 'operator', 'approver'],
    });
    // The token file holds only the hash.
    const stored = await fs.readFile(tokensFile, 'utf8');
    expect(stored).not.toContain(token);
    expect(stored).toContain(hashToken(token));

    // Later starts keep both files as they are.
    const again = await loadTokens({ tokensFile, cliTokenFile, bootstrap: true });
    expect(again.created).toBe(false);
    expect((await fs.readFile(cliTokenFile, 'utf8')).trim()).toBe(token);
    expect(again.verifier.authenticate(token)?.subject).toBe(localSubject());
  });

  it('creates one token when two processes start for the first time at once', async () => {
    const dir = await tempDir('auth-race');
    const opts = {
      tokensFile: path.join(dir, 'auth', 'tokens.json'),
      cliTokenFile: path.join(dir, 'auth', 'cli-token'),
    };
    const created = await Promise.all(Array.from({ length: 8 }, () => ensureLocalTokens(opts)));
    expect(created.filter(Boolean)).toHaveLength(1);
    const token = (await fs.readFile(opts.cliTokenFile, 'utf8')).trim();
    expect(readTokenFileSync(opts.tokensFile)).toEqual([
      { subject: localSubject(), roles: ['viewer', 'operator', 'approver'], sha256: hashToken(token) },
    ]);
    expect((await fs.readdir(path.join(dir, 'auth'))).sort()).toEqual(['cli-token', 'tokens.json']);
  });

  it('adds tokens from concurrent writers without losing one, and the API sees them without a restart', async () => {
    const dir = await tempDir('auth-add');
    const file = path.join(dir, 'tokens.json');
    let now = 0;
    const tokens = await Promise.all(Array.from({ length: 12 }, (_, i) => addToken(file, `user-${i}`, ['viewer'])));
    expect(await modeOf(file)).toBe(0o600);
    const watched = TokenFile.open(file, { now: () => now });
    tokens.forEach((t, i) => expect(watched.authenticate(t)?.subject).toBe(`user-${i}`));

    const late = await addToken(file, 'late', ['operator']);
    expect(watched.authenticate(late)).toBeUndefined(); // not rechecked within the second
    now += 1000;
    expect(watched.authenticate(late)).toEqual({ subject: 'late', roles: ['operator'] });
  });

  it('fails closed when the file turns invalid or goes away, and recovers when it is fixed', async () => {
    const dir = await tempDir('auth-reload');
    const file = path.join(dir, 'tokens.json');
    const token = await addToken(file, 'ops', ['operator']);
    let now = 0;
    const errors: string[] = [];
    const watched = TokenFile.open(file, { now: () => now, onError: (m) => errors.push(m) });
    expect(watched.authenticate(token)?.subject).toBe('ops');

    const good = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, '{"tokens": [ {"subject": "DB_PASSWORD=hunter2"');
    now += 1000;
    expect(watched.authenticate(token)).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('is not valid JSON');
    expect(errors[0]).not.toContain('hunter2');

    await fs.writeFile(file, good);
    now += 1000;
    expect(watched.authenticate(token)?.subject).toBe('ops');

    await fs.rm(file);
    now += 1000;
    expect(watched.authenticate(token)).toBeUndefined();
  });

  it('revokes a token removed from the file', async () => {
    const dir = await tempDir('auth-revoke');
    const file = path.join(dir, 'tokens.json');
    const keep = await addToken(file, 'keep', ['viewer']);
    const drop = await addToken(file, 'drop', ['viewer']);
    let now = 0;
    const watched = TokenFile.open(file, { now: () => now });
    expect(watched.authenticate(drop)?.subject).toBe('drop');
    const doc = JSON.parse(await fs.readFile(file, 'utf8')) as { tokens: Array<{ subject: string }> };
    await fs.writeFile(file, JSON.stringify({ tokens: doc.tokens.filter((t) => t.subject !== 'drop') }));
    now += 1000;
    expect(watched.authenticate(drop)).toBeUndefined();
    expect(watched.authenticate(keep)?.subject).toBe('keep');
  });

  it('takes more tokens from MLOOP_TOKENS, and creates no file when they are configured', async () => {
    const dir = await tempDir('auth-env');
    const token = generateToken();
    const tokensFile = path.join(dir, 'tokens.json');
    const envTokens = JSON.stringify({ tokens: [{ subject: 'ci', roles: ['viewer'], sha256: hashToken(token) }] });
    const loaded = await loadTokens({
      tokensFile,
      cliTokenFile: path.join(dir, 'cli-token'),
      envTokens,
      bootstrap: false,
    });
    expect(loaded.created).toBe(false);
    expect(loaded.verifier.authenticate(token)).toEqual({ subject: 'ci', roles: ['viewer'] });
    await expect(fs.stat(tokensFile)).rejects.toThrow();
  });

  it.each([
    ['a missing file named explicitly', {}, 'MLOOP_TOKENS_FILE: '],
    [
      'MLOOP_TOKENS that is not JSON',
      { envTokens: `{"tokens": "${'mloop_'}secret` },
      'MLOOP_TOKENS: is not valid JSON',
    ],
    [
      'MLOOP_TOKENS with a bad entry',
      { envTokens: '{"tokens": [{"subject": "x", "roles": ["root"], "sha256": "00"}]}' },
      'MLOOP_TOKENS: tokens[0].roles[0]',
    ],
  ])('refuses to start with %s', async (_name, extra, message) => {
    const dir = await tempDir('auth-bad');
    const start = loadTokens({
      tokensFile: path.join(dir, 'none.json'),
      cliTokenFile: path.join(dir, 'cli-token'),
      bootstrap: false,
      ...extra,
    });
    await expect(start).rejects.toThrow(message);
    await expect(start).rejects.not.toThrow('secret');
  });

  it('refuses a token file it cannot use at start, naming the file but not its contents', async () => {
    const dir = await tempDir('auth-bad-file');
    const file = path.join(dir, 'tokens.json');
    await fs.writeFile(file, 'DB_PASSWORD=hunter2\n');
    expect(() => TokenFile.open(file)).toThrow(`${file}: is not valid JSON`);
    expect(() => TokenFile.open(file)).not.toThrow('hunter2');
  });
});
