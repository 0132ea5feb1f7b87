import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { invalidInput } from '../errors';
import { isRole, roles, subjectPattern, type Principal, type Role } from './roles';

/** One configured token: its subject, its roles and the sha256 of the token (never the token). */
export interface TokenEntry {
  subject: string;
  roles: Role[];
  sha256: string;
}

/** Anything that can tell who a presented token belongs to. */
export interface TokenVerifier {
  authenticate(token: string): Principal | undefined;
}

// Tokens carry a fixed prefix so that logs and scanners can recognise (and redact) them.
export const tokenPrefix = 'mloop_';
const tokenPattern = /^[A-Za-z0-9._~+/=-]{16,512}$/;

/**
 * A new token with 256 random bits. Hashing with plain sha256 is enough for tokens this random:
 * there is nothing to guess, so a slow password hash would only slow every request down.
 */
export function generateToken(): string {
  return `${tokenPrefix}${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Checks a parsed `{tokens: [...]}` document, naming the place of each problem (`where`). */
export function parseTokenEntries(doc: unknown, where: string): TokenEntry[] {
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { tokens?: unknown }).tokens)) {
    throw invalidInput(where, 'must be a JSON object {"tokens": [{"subject", "roles", "sha256"}, ...]}');
  }
  const extra = Object.keys(doc).filter((k) => k !== 'tokens');
  if (extra.length > 0) throw invalidInput(where, `unknown field "${extra[0]}"`);
  return (doc as { tokens: unknown[] }).tokens.map((raw, i) => parseEntry(raw, `${where}: tokens[${i}]`));
}

function parseEntry(raw: unknown, at: string): TokenEntry {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalidInput(at, 'must be an object');
  const { subject, roles: given, sha256, ...rest } = raw as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw invalidInput(`${at}.${extra[0]}`, 'is not a known field (subject, roles, sha256)');
  if (typeof subject !== 'string' || !subjectPattern.test(subject)) {
    throw invalidInput(`${at}.subject`, 'must be 1-128 letters, digits, "@", ".", "_" or "-"');
  }
  if (!Array.isArray(given) || given.length === 0)
    throw invalidInput(`${at}.roles`, `must be a non-empty list of ${roles.join(', ')}`);
  given.forEach((r, j) => {
    if (!isRole(r)) throw invalidInput(`${at}.roles[${j}]`, `must be one of ${roles.join(', ')}`);
  });
  if (typeof sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sha256)) {
    throw invalidInput(
      `${at}.sha256`,
      "must be the 64 hex digits of the token's sha256 (the token itself is never stored)",
    );
  }
  return { subject, roles: [...new Set(given as Role[])], sha256: sha256.toLowerCase() };
}

/** Verifies presented tokens against configured hashes, comparing every hash in constant time. */
export class TokenStore implements TokenVerifier {
  private readonly hashes: Buffer[];
  private readonly principals: Principal[];

  constructor(entries: readonly TokenEntry[]) {
    const seen = new Set<string>();
    for (const e of entries) {
      if (seen.has(e.sha256)) throw invalidInput('tokens', `two entries share one token hash (subject "${e.subject}")`);
      seen.add(e.sha256);
    }
    this.hashes = entries.map((e) => Buffer.from(e.sha256, 'hex'));
    this.principals = entries.map((e) => Object.freeze({ subject: e.subject, roles: Object.freeze([...e.roles]) }));
  }

  get size(): number {
    return this.hashes.length;
  }

  authenticate(token: string): Principal | undefined {
    if (!tokenPattern.test(token)) return undefined;
    const digest = createHash('sha256').update(token, 'utf8').digest();
    let found: Principal | undefined;
    // No early exit: the time taken does not depend on which entry, if any, matched.
    for (let i = 0; i < this.hashes.length; i++) {
      if (timingSafeEqual(digest, this.hashes[i]!) && found === undefined) found = this.principals[i];
    }
    return found;
  }
}

/** Several sources (the token file, the environment) as one: the first that knows the token answers. */
export function anyOf(...verifiers: TokenVerifier[]): TokenVerifier {
  return {
    authenticate(token) {
      const answers = verifiers.map((v) => v.authenticate(token));
      return answers.find((p) => p !== undefined);
    },
  };
}
