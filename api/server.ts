import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../core/config';
import { buildApp } from './app';

async function main(): Promise<void> {
  const config = loadConfig();
  const connection = await Connection.connect({ address: config.temporalAddress });
  const temporal = new Client({ connection, namespace: config.temporalNamespace });
  const app = await buildApp({ temporal, namespace: config.temporalNamespace, webUiUrl: config.temporalUiUrl, logger: { level: 'info' } });
  const close = async (): Promise<void> => {
    await app.close();
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
