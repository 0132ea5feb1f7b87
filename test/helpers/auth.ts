import { roles as allRoles, type Role } from '../../core/auth/roles';
import { generateToken, hashToken, TokenStore } from '../../core/auth/token-store';
import type { AuthOptions } from '../../api/plugins/auth';

/** Test users: people with every role, and one user per single role. */
const subjects: Record<string, readonly Role[]> = {
  tester: allRoles,
  alice: allRoles,
  bob: allRoles,
  carol: allRoles,
  dave: allRoles,
  'only-viewer': ['viewer'],
  'only-operator': ['operator'],
  'only-approver': ['approver'],
};

const tokens = Object.fromEntries(Object.keys(subjects).map((s) => [s, generateToken()]));

/** The token store every test app uses: the subjects above, each with a fresh random token. */
export const testAuth: AuthOptions = {
  tokens: new TokenStore(
    Object.entries(subjects).map(([subject, r]) => ({ subject, roles: [...r], sha256: hashToken(tokens[subject]!) })),
  ),
};

export function tokenOf(subject: keyof typeof subjects & string): string {
  const token = tokens[subject];
  if (!token) throw new Error(`no test token for "${subject}"`);
  return token;
}

/** Request headers of `subject`, e.g. `app.inject({ headers: as('carol'), … })`. */
export const as = (subject: string): { authorization: string } => ({ authorization: `Bearer ${tokenOf(subject)}` });
