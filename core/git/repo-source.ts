import { invalidInput } from '../errors';

/** Where a model's code lives: a git repository, a ref in it, and an optional folder inside it. */
export interface RepoSource {
  url: string;
  ref: string;
  path?: string;
}

const allowedSchemes = ['https:', 'ssh:', 'file:'] as const;
const scpLike = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-]+$/;
// Control characters could smuggle extra lines or arguments into git invocations.
// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u001f\u007f]/;

/**
 * Accepts absolute local paths, `file://`, `https://`, `ssh://` and scp-like `user@host:path`.
 * Everything else is refused before git sees it: option-looking values (`--upload-pack=…`),
 * remote-helper transports (`ext::…`), and other schemes (`git://`, `http://`, `ftp://`).
 * Credentials in the URL are refused too: they would end up in the lifecycle's memo, the
 * registry's lineage, logs and the mirror's git config. Errors never echo them.
 */
export function validateRepoUrl(url: string, field = 'repo.url'): string {
  const shown = (): string => JSON.stringify(redactUrlCredentials(url).slice(0, 200));
  if (url.length === 0) throw invalidInput(field, 'must not be empty');
  if (url.length > 2048) throw invalidInput(field, 'is longer than 2048 characters');
  if (controlChars.test(url) || /\s/.test(url))
    throw invalidInput(field, 'must not contain whitespace or control characters');
  if (url.startsWith('-')) throw invalidInput(field, `must not start with "-" (got ${shown()})`);
  if (url.includes('::')) throw invalidInput(field, `transport helpers ("::") are not allowed (got ${shown()})`);
  if (url.startsWith('/')) return url;
  if (scpLike.test(url)) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidInput(
      field,
      `must be an absolute path or a URL with scheme ${allowedSchemes.join(', ')} (got ${shown()})`,
    );
  }
  if (!(allowedSchemes as readonly string[]).includes(parsed.protocol)) {
    const scheme = parsed.protocol.replace(/:$/, '');
    throw invalidInput(
      field,
      `scheme "${scheme}" is not allowed; use one of ${allowedSchemes.map((s) => s.replace(/:$/, '')).join(', ')}`,
    );
  }
  // An ssh user name (`ssh://git@host/…`) is no secret; anything else before the "@" may be a token.
  if (parsed.password !== '' || (parsed.username !== '' && parsed.protocol !== 'ssh:')) {
    throw invalidInput(
      field,
      'must not contain credentials (user:password@ or a token before "@"); use a git credential helper or an SSH key',
    );
  }
  return url;
}

/**
 * Hides credentials in URLs anywhere in a text: all user info of http(s) URLs (a lone user name
 * there is often a token), the password of others.
 */
export function redactUrlCredentials(text: string): string {
  return text
    .replace(/\b(https?:[/\\]*)[^\s/\\?#]*@/gi, '$1[redacted]@')
    .replace(/\b([a-z][a-z0-9+.-]*:[/\\]{2}[^\s/\\?#@:]*):[^\s/\\?#]*@/gi, '$1:[redacted]@');
}

/** A branch, tag or commit SHA, following `git check-ref-format` and refusing option-like values. */
export function validateRef(ref: string, field = 'repo.ref'): string {
  if (ref.length === 0) throw invalidInput(field, 'must not be empty');
  if (ref.length > 255) throw invalidInput(field, 'is longer than 255 characters');
  if (ref.startsWith('-')) throw invalidInput(field, `must not start with "-" (got "${ref}")`);
  if (!/^[A-Za-z0-9._/-]+$/.test(ref))
    throw invalidInput(field, `may contain only letters, digits, ".", "_", "/" and "-" (got "${ref}")`);
  if (
    ref.includes('..') ||
    ref.includes('//') ||
    ref.startsWith('/') ||
    ref.endsWith('/') ||
    ref.endsWith('.') ||
    ref.endsWith('.lock')
  ) {
    throw invalidInput(field, `is not a valid git ref (got "${ref}")`);
  }
  return ref;
}

/** A folder inside the repository: relative, and never escaping it. */
export function validateRepoPath(p: string, field = 'repo.path'): string {
  if (p.startsWith('/') || p.startsWith('-'))
    throw invalidInput(field, `must be a relative folder inside the repository (got "${p}")`);
  if (controlChars.test(p)) throw invalidInput(field, 'must not contain control characters');
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.some((s) => s === '..')) throw invalidInput(field, `must not leave the repository with ".." (got "${p}")`);
  return parts.join('/');
}

export function validateRepoSource(source: RepoSource): RepoSource {
  const url = validateRepoUrl(source.url);
  const ref = validateRef(source.ref);
  const out: RepoSource = { url, ref };
  if (source.path !== undefined && source.path !== '') out.path = validateRepoPath(source.path);
  return out;
}

export const isCommitSha = (ref: string): boolean => /^[0-9a-f]{40}$/.test(ref);
