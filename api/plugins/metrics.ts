import { Type } from '@sinclair/typebox';
import { responses } from '../schemas/errors';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's Prometheus series, served at `/metrics`. */
    metrics: ApiMetrics;
  }
}

export interface ApiMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  lifecycleStarts: Counter<'outcome'>;
}

/** The route that starts lifecycles: its answers count as starts by outcome. */
export const lifecycleStartRoute = { method: 'POST', url: '/v1/lifecycles' } as const;

/**
 * The API's series, one registry per app (tests build many): HTTP requests by route template,
 * method and status with their durations, lifecycle starts by outcome (`accepted`, also for a
 * repeated idempotency key; `rejected` for 4xx; `failed` for 5xx), and the process's own.
 */
export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status'] as const;
  return {
    registry,
    httpRequests: new Counter({
      name: 'mloop_http_requests_total',
      help: 'HTTP requests answered, by method, route template (`unmatched` for unknown paths) and status.',
      labelNames,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'mloop_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method, route template and status, in seconds.',
      labelNames,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    lifecycleStarts: new Counter({
      name: 'mloop_lifecycle_starts_total',
      help: 'Lifecycle start requests by outcome: accepted, rejected (4xx), failed (5xx).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}

/**
 * Counts every answer (refusals by the host and token checks included) and serves `/metrics` to
 * tokens with the `viewer` role: series name models and routes, which are not for anyone who can
 * reach the port (Prometheus sends a bearer token with `authorization.credentials_file`).
 */
export function registerMetrics(app: FastifyInstance, metrics: ApiMetrics = createApiMetrics()): void {
  app.decorate('metrics', metrics);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route, status: String(reply.statusCode) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    if (request.method === lifecycleStartRoute.method && route === lifecycleStartRoute.url) {
      const outcome = reply.statusCode >= 500 ? 'failed' : reply.statusCode >= 400 ? 'rejected' : 'accepted';
      metrics.lifecycleStarts.inc({ outcome });
    }
  });
  app.get(
    '/metrics',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Prometheus metrics of the API process',
        tags: ['health'],
        querystring: Type.Object({}, { additionalProperties: false }),
        response: responses({ 200: Type.String({ description: 'Prometheus text exposition format 0.0.4' }) }),
      },
    },
    async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
