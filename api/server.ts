import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { loadTokens } from '../core/auth/load';
import { loadConfig } from '../core/config';
import { Registry } from '../core/registry/registry';
import { buildApp } from './app';
import { apiLoggerOptions } from './logging';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino(apiLoggerOptions());
  const tokens = await loadTokens(config.auth, (message) => log.error(message));
  if (tokens.created)
    log.info(`created the API token file ${config.auth.tokensFile}; the CLI's token is in ${config.auth.cliTokenFile}`);
  if (tokens.count === 0)
    log.warn(`no API tokens are configured (${config.auth.tokensFile}); every request will be refused`);
  const connection = await Connection.connect({ address: config.temporalAddress });
  const temporal = new Client({ connection, namespace: config.temporalNamespace });
  // The same file the workers write; WAL mode lets this process read while they do.
  const registry = await Registry.openSqlite(path.join(config.dataDir, 'registry.db'));
  const app = await buildApp({
    temporal,
    registry,
    namespace: config.temporalNamespace,
    webUiUrl: config.temporalUiUrl,
    auth: { tokens: tokens.verifier, allowedHosts: config.apiAllowedHosts },
    logger: apiLoggerOptions(),
  });
  const close = async (): Promise<void> => {
    await app.close();
    await registry.close();
    await connection.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void close());
  process.once('SIGTERM', () => void close());
  await app.listen({ host: config.apiHost, port: config.apiPort });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
