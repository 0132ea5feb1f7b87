import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../../../core/auth/redact';
import { anyOf, generateToken, hashToken, parseTokenEntries, TokenStore } from '../../../core/auth/token-store';

describe('token store', () => {
  const alice = generateToken();
  const bob = generateToken();
  const store = new TokenStore([
    { subject: 'alice', roles: ['viewer', 'operator'], sha256: hashToken(alice) },
    { subject: 'bob', roles: ['viewer'], sha256: hashToken(bob) },
  ]);

  it('generates prefixed tokens with 256 random bits, each one different', () => {
    const many = new Set(Array.from({ length: 1000 }, generateToken));
    expect(many.size).toBe(1000);
    for (const t of many) expect(t).toMatch(/^mloop_[A-Za-z0-9_-]{43}$/);
    expect(hashToken('x')).toBe('2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
  });

  it('names the subject and roles of a known token, and nobody for anything else', () => {
    expect(store.authenticate(alice)).toEqual({ subject: 'alice', roles: ['viewer', 'operator'] });
    expect(store.authenticate(bob)).toEqual({ subject: 'bob', roles: ['viewer'] });
    for (const wrong of [
      '',
      'x',
      hashToken(alice),
      alice.slice(0, -1),
      `${alice}x`,
      alice.toUpperCase(),
      'a'.repeat(100_000),
      `${alice}\n`,
    ]) {
      expect(store.authenticate(wrong)).toBeUndefined();
    }
    expect(new TokenStore([]).authenticate(alice)).toBeUndefined();
  });

  it('keeps principals immutable, so a handler cannot grant itself a role', () => {
    const p = store.authenticate(bob)!;
    expect(() => (p.roles as string[]).push('operator')).toThrow();
    expect(store.authenticate(bob)!.roles).toEqual(['viewer']);
  });

  it('refuses two entries with the same token hash', () => {
    const e = { subject: 'a', roles: ['viewer' as const], sha256: hashToken(alice) };
    expect(() => new TokenStore([e, { ...e, subject: 'b' }])).toThrow('two entries share one token hash');
  });

  it('asks every source and takes the first that knows the token', () => {
    const other = generateToken();
    const second = new TokenStore([{ subject: 'ci', roles: ['viewer'], sha256: hashToken(other) }]);
    const both = anyOf(store, second);
    expect(both.authenticate(other)?.subject).toBe('ci');
    expect(both.authenticate(alice)?.subject).toBe('alice');
    expect(both.authenticate(generateToken())).toBeUndefined();
  });

  it.each([
    ['not an object', 'x', 'f: must be a JSON object'],
    ['no tokens list', {}, 'f: must be a JSON object'],
    ['an unknown top-level field', { tokens: [], admins: [] }, 'unknown field "admins"'],
    ['an entry that is a list', { tokens: [[]] }, 'f: tokens[0]: must be an object'],
    ['a missing subject', { tokens: [{ roles: ['viewer'], sha256: 'a'.repeat(64) }] }, 'f: tokens[0].subject: must be'],
    [
      'a subject with spaces',
      { tokens: [{ subject: 'a b', roles: ['viewer'], sha256: 'a'.repeat(64) }] },
      'tokens[0].subject',
    ],
    [
      'no roles',
      { tokens: [{ subject: 'a', roles: [], sha256: 'a'.repeat(64) }] },
      'tokens[0].roles: must be a non-empty list',
    ],
    [
      'an unknown role',
      { tokens: [{ subject: 'a', roles: ['viewer', 'admin'], sha256: 'a'.repeat(64) }] },
      'tokens[0].roles[1]: must be one of viewer',
    ],
    [
      'a plaintext token instead of a hash',
      { tokens: [{ subject: 'a', roles: ['viewer'], sha256: 'mloop_x' }] },
      'tokens[0].sha256: must be the 64 hex',
    ],
    [
      'an extra field',
      { tokens: [{ subject: 'a', roles: ['viewer'], sha256: 'a'.repeat(64), token: 'x' }] },
      'tokens[0].token: is not a known field',
    ],
  ])('refuses a token document with %s, naming the place', (_name, doc, message) => {
    expect(() => parseTokenEntries(doc, 'f')).toThrow(message);
  });

  it('accepts upper-case hashes and repeated roles, normalised', () => {
    expect(
      parseTokenEntries({ tokens: [{ subject: 'a', roles: ['viewer', 'viewer'], sha256: 'A'.repeat(64) }] }, 'f'),
    ).toEqual([{ subject: 'a', roles: ['viewer'], sha256: 'a'.repeat(64) }]);
  });

  it('redacts tokens and URL credentials in text', () => {
    const text = `GET /v1/models?t=${alice} from https://me:${bob}@git.example/x.git and ssh://git@host/y`;
    const out = redactSecrets(text);
    expect(out).not.toContain(alice);
    expect(out).not.toContain(bob);
    expect(out).toBe(
      'GET /v1/models?t=mloop_[redacted] from https://[redacted]@git.example/x.git and ssh://git@host/y',
    );
  });
});
