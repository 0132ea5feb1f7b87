import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { loadTokens } from '../core/auth/load';
import { loadConfigOrExit } from '../core/config';
import { ArtifactStore } from '../core/artifacts/store';
import { createKafkaAdapter } from '../core/kafka/adapter';
import { Registry } from '../core/registry/registry';
import { buildApp } from './app';
import { apiLoggerOptions } from './logging';

async function main(): Promise<void> {
  // First: a bad setting stops the process before anything starts.
  const config = loadConfigOrExit('mloop api');
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
  // For the pipelines' http sources: records posted to the API are produced to their topics.
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'mloop-api' });
  const app = await buildApp({
    temporal,
    registry,
    // Read-only here: drift reports' HTML pages, which the workers store.
    artifacts: new ArtifactStore(path.join(config.dataDir, 'artifacts')),
    kafka,
    namespace: config.temporalNamespace,
    webUiUrl: config.temporalUiUrl,
    controlTaskQueue: config.worker.taskQueues.control,
    trainTaskQueue: config.worker.taskQueues.train,
    streamTaskQueue: config.worker.taskQueues.stream,
    readiness: { kafkaBrokers: config.kafkaBrokers, timeoutMs: config.readyTimeoutMs },
    auth: { tokens: tokens.verifier, allowedHosts: config.apiAllowedHosts },
    logger: apiLoggerOptions(),
  });
  const close = async (): Promise<void> => {
    await app.close();
    await kafka.close();
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
