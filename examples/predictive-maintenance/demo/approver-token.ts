import fs from 'node:fs/promises';
import { addToken } from '../../../core/auth/token-file';
import { writePrivateFile } from '../../../core/auth/private-files';

export const approverSubject = 'demo-approver';

/**
 * The demo's own approver: a token for `demo-approver` (approver and viewer roles) in the API's
 * token file, its plaintext kept 0600 in `tokenFile`. Made on the first run, reused after, so
 * the history shows the same subject and the token file does not grow with every run.
 */
export async function ensureApproverToken(tokensFile: string, tokenFile: string): Promise<string> {
  const kept = await fs.readFile(tokenFile, 'utf8').then(
    (t) => t.trim(),
    () => '',
  );
  if (kept) return kept;
  const token = await addToken(tokensFile, approverSubject, ['approver', 'viewer']);
  await writePrivateFile(tokenFile, `${token}\n`);
  return token;
}
