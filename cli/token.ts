import fs from 'node:fs';
import type { AuthConfig } from '../core/auth/load';

/** Where the CLI's token came from, for messages; never the token itself. */
export interface CliToken {
  token: string;
  source: string;
}

/**
 * The token the CLI sends: `MLOOP_TOKEN`, else the file the API's first start wrote
 * (`MLOOP_CLI_TOKEN_FILE`, default `$MLOOP_DATA/auth/cli-token`). Undefined when there is none.
 */
export function findCliToken(env: NodeJS.ProcessEnv, auth: Pick<AuthConfig, 'cliTokenFile'>): CliToken | undefined {
  const fromEnv = env.MLOOP_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv, source: 'MLOOP_TOKEN' };
  let text: string;
  try {
    text = fs.readFileSync(auth.cliTokenFile, 'utf8');
  } catch {
    return undefined;
  }
  const mode = fs.statSync(auth.cliTokenFile).mode & 0o777;
  if (mode & 0o077) {
    console.error(
      `mloop: warning: ${auth.cliTokenFile} is readable by others (mode ${mode.toString(8)}); run chmod 600 on it`,
    );
  }
  const token = text.trim();
  return token ? { token, source: auth.cliTokenFile } : undefined;
}
