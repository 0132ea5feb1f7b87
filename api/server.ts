import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../core/config';
import { Registry } from '../core/registry/registry';
import { buildApp } from './app';

async function main(): Promise<void> {
  const config = loadConfig();
  const connection = await Connection.connect({ address: config.temporalAddress });
  const temporal = new Client({ connection, namespace: config.temporalNamespace });
  // The same file the workers write; WAL mode lets this process read while they do.
  const registry = await Registry.openSqlite(path.join(config.dataDir, 'registry.db'));
  const app = await buildApp({ temporal, registry, namespace: config.temporalNamespace, webUiUrl: config.temporalUiUrl, logger: { level: 'info' } });
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
