import fs from 'node:fs';
import { MloopError } from '../errors';
import { ensureLocalTokens, TokenFile } from './token-file';
import { anyOf, parseTokenEntries, TokenStore, type TokenVerifier } from './token-store';

export interface AuthConfig {
  /** The token file: `MLOOP_TOKENS_FILE`, default `$MLOOP_DATA/auth/tokens.json`. */
  tokensFile: string;
  /** Where the first start writes the local user's token and the CLI reads it: `MLOOP_CLI_TOKEN_FILE`. */
  cliTokenFile: string;
  /** `MLOOP_TOKENS`: more entries in the file's JSON format, e.g. for containers. */
  envTokens?: string;
  /** Whether a missing token file may be created: only when neither variable above names tokens. */
  bootstrap: boolean;
}

export interface LoadedTokens {
  verifier: TokenVerifier;
  /** Whether this start created the token file (and the CLI's token). */
  created: boolean;
  count: number;
}

/** The API's tokens, from the file and the environment; creates the local default on first start. */
export async function loadTokens(
  cfg: AuthConfig,
  onError: (message: string) => void = () => undefined,
): Promise<LoadedTokens> {
  const created = cfg.bootstrap
    ? await ensureLocalTokens({ tokensFile: cfg.tokensFile, cliTokenFile: cfg.cliTokenFile })
    : false;
  const sources: Array<TokenFile | TokenStore> = [];
  if (fs.existsSync(cfg.tokensFile)) sources.push(TokenFile.open(cfg.tokensFile, { onError }));
  else if (cfg.envTokens === undefined) {
    throw new MloopError(
      'InvalidInput',
      `MLOOP_TOKENS_FILE: ${cfg.tokensFile} does not exist (and MLOOP_TOKENS is not set)`,
      {
        field: 'MLOOP_TOKENS_FILE',
      },
    );
  }
  if (cfg.envTokens !== undefined) {
    let doc: unknown;
    try {
      doc = JSON.parse(cfg.envTokens);
    } catch {
      throw new MloopError('InvalidInput', 'MLOOP_TOKENS: is not valid JSON', { field: 'MLOOP_TOKENS' });
    }
    sources.push(new TokenStore(parseTokenEntries(doc, 'MLOOP_TOKENS')));
  }
  const count = sources.reduce((n, s) => n + s.size, 0);
  return { verifier: anyOf(...sources), created, count };
}
