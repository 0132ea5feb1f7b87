import fs from 'node:fs';
import os from 'node:os';
import { MloopError, invalidInput } from '../errors';
import { writePrivateFile, withFileLock } from './private-files';
import { roles as allRoles, subjectPattern, type Role } from './roles';
import {
  TokenStore,
  generateToken,
  hashToken,
  parseTokenEntries,
  type TokenEntry,
  type TokenVerifier,
} from './token-store';

/** Reads and checks a token file. Errors name the file and the entry, never echo its contents. */
export function readTokenFileSync(file: string): TokenEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new MloopError(
      'InvalidInput',
      `${file}: cannot read the token file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      {
        field: file,
      },
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw invalidInput(file, 'is not valid JSON');
  }
  return parseTokenEntries(doc, file);
}

const stampOf = (file: string): string => {
  try {
    const s = fs.statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
};

export interface TokenFileOptions {
  /** How often a request may look at the file for changes; default 1 s. */
  recheckMs?: number;
  /** Told when a changed file cannot be used; its tokens are refused until it is fixed. */
  onError?: (message: string) => void;
  now?: () => number;
}

/**
 * The tokens of a file, reread when the file changes, so that adding or revoking a token needs
 * no restart. A file that turns unreadable or invalid fails closed: none of its tokens work.
 */
export class TokenFile implements TokenVerifier {
  private store: TokenStore | undefined;
  private stamp: string;
  private checkedAt: number;

  private constructor(
    readonly file: string,
    private readonly opts: Required<TokenFileOptions>,
  ) {
    this.stamp = stampOf(file);
    this.store = new TokenStore(readTokenFileSync(file));
    this.checkedAt = opts.now();
  }

  /** Opens the file; an unreadable or invalid file is an error at start. */
  static open(file: string, opts: TokenFileOptions = {}): TokenFile {
    return new TokenFile(file, { recheckMs: 1000, onError: () => undefined, now: Date.now, ...opts });
  }

  get size(): number {
    return this.store?.size ?? 0;
  }

  authenticate(token: string): ReturnType<TokenStore['authenticate']> {
    this.refresh();
    return this.store?.authenticate(token);
  }

  private refresh(): void {
    const now = this.opts.now();
    if (now - this.checkedAt < this.opts.recheckMs) return;
    this.checkedAt = now;
    const stamp = stampOf(this.file);
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    try {
      this.store = new TokenStore(readTokenFileSync(this.file));
    } catch (err) {
      this.store = undefined;
      this.opts.onError(`token file refused, none of its tokens work until it is fixed: ${(err as Error).message}`);
    }
  }
}

const serialize = (entries: TokenEntry[]): string => `${JSON.stringify({ tokens: entries }, null, 2)}\n`;

/** Adds a new token for `subject` to the file (creating it), and returns the token: shown once, stored hashed. */
export async function addToken(file: string, subject: string, roles: Role[]): Promise<string> {
  const token = generateToken();
  const [entry] = parseTokenEntries({ tokens: [{ subject, roles, sha256: hashToken(token) }] }, 'new token');
  await withFileLock(`${file}.lock`, async () => {
    const existing = fs.existsSync(file) ? readTokenFileSync(file) : [];
    await writePrivateFile(file, serialize([...existing, entry!]));
  });
  return token;
}

/** The local user's name as a token subject. */
export function localSubject(): string {
  let name: string;
  try {
    name = os.userInfo().username;
  } catch {
    name = process.env.USER ?? '';
  }
  const cleaned = name.replace(/[^A-Za-z0-9@._-]/g, '-').slice(0, 128);
  return subjectPattern.test(cleaned) ? cleaned : 'local';
}

/**
 * First start of the embedded default: when no token file exists, creates one with a token for the
 * local user holding every role, and writes that token (the only plaintext copy) to `cliTokenFile`,
 * 0600, where the CLI finds it. Returns whether it created them.
 */
export async function ensureLocalTokens(opts: {
  tokensFile: string;
  cliTokenFile: string;
  subject?: string;
}): Promise<boolean> {
  if (fs.existsSync(opts.tokensFile)) return false;
  return withFileLock(`${opts.tokensFile}.lock`, async () => {
    if (fs.existsSync(opts.tokensFile)) return false;
    const token = generateToken();
    // The plaintext first: a crash before the token file exists only means both are made again.
    await writePrivateFile(opts.cliTokenFile, `${token}\n`);
    await writePrivateFile(
      opts.tokensFile,
      serialize([{ subject: opts.subject ?? localSubject(), roles: [...allRoles], sha256: hashToken(token) }]),
    );
    return true;
  });
}
