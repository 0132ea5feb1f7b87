import { redactUrlCredentials } from '../git/repo-source';
import { tokenPrefix } from './token-store';

const tokenLike = new RegExp(`${tokenPrefix}[A-Za-z0-9_-]{16,}`, 'g');

/** Hides API tokens and credentials in URLs in any text bound for a log or an API answer. */
export function redactSecrets(text: string): string {
  return redactUrlCredentials(text).replace(tokenLike, `${tokenPrefix}[redacted]`);
}
