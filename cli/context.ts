import { loadConfigOrExit, type MloopConfig } from '../core/config';
import { ApiClient } from './api-client';
import { findCliToken } from './token';

/** What commands share: the configuration and the API client, made on first use (`--help` needs neither). */
export interface CliContext {
  config(): MloopConfig;
  api(): ApiClient;
  /** Where normal output goes (stdout); errors and hints go to stderr. */
  out: NodeJS.WriteStream;
}

export function createContext(env: NodeJS.ProcessEnv = process.env): CliContext {
  let config: MloopConfig | undefined;
  let api: ApiClient | undefined;
  const ctx: CliContext = {
    // A bad setting stops the command with the variable named (exit code 78), like the servers.
    config: () => (config ??= loadConfigOrExit('mloop', env)),
    api: () => {
      const c = ctx.config();
      api ??= new ApiClient(c.apiUrl, findCliToken(env, c.auth), c.auth.cliTokenFile);
      return api;
    },
    out: process.stdout,
  };
  return ctx;
}

/** Prints `data` as JSON with `--json`, else the human text. */
export function emit(ctx: CliContext, json: boolean | undefined, data: unknown, human: () => string): void {
  ctx.out.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
}
