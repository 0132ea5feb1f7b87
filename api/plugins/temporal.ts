import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyInstance {
    temporal: Client;
  }
}

/** Decorates the app once with the Temporal client; routes use `app.temporal`. */
export function registerTemporal(app: FastifyInstance, client: Client): void {
  app.decorate('temporal', client);
}
