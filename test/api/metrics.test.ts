import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app';
import type { Registry } from '../../core/registry/registry';
import { validStart } from '../helpers/api-routes';
import { as, testAuth } from '../helpers/auth';
import { recordingTemporal } from '../helpers/recording-temporal';
import { openTestRegistry } from '../helpers/registry';

/** The value of one sample line of a scrape, or undefined when it is not there. */
export function sampleOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('the API’s /metrics', () => {
  const temporal = recordingTemporal();
  let failStarts = false;
  let registry: Registry;
  let app: FastifyInstance;

  beforeAll(async () => {
    registry = await openTestRegistry('api-metrics');
    const workflow = new Proxy(temporal.client.workflow, {
      get: (target, prop) =>
        prop === 'start' && failStarts
          ? () => Promise.reject(new Error('temporal is down'))
          : (Reflect.get(target, prop, target) as unknown),
    });
    const client = new Proxy(temporal.client, {
      get: (target, prop) => (prop === 'workflow' ? workflow : Reflect.get(target, prop, target)),
    }) as Client;
    app = await buildApp({
      allowedRoots: ['/srv/models', '/data'],
      temporal: client,
      registry,
      namespace: 'default',
      webUiUrl: 'http://127.0.0.1:8233',
      auth: testAuth,
    });
  });
  afterAll(async () => {
    await app?.close();
    await registry?.close();
  });

  const scrape = async (): Promise<string> => {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: as('only-viewer') });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.body;
  };

  it('counts requests by route template, method and status, and lifecycle starts by outcome', async () => {
    const start = (payload: object, headers = as('tester')) =>
      app.inject({ method: 'POST', url: '/v1/lifecycles', headers, payload });
    // A key of its own: the dev server keeps workflows of earlier runs.
    const key = `metrics-${Date.now()}`;
    const first = await start({ ...validStart, key });
    expect(first.statusCode, first.body).toBe(202);
    const again = await start({ ...validStart, key });
    expect(again.statusCode, again.body).toBe(202);
    expect((await start({ ...validStart, model: 'Bad Name!' })).statusCode).toBe(400);
    expect((await start(validStart, { authorization: 'Bearer nope' })).statusCode).toBe(401);
    failStarts = true;
    expect((await start(validStart)).statusCode).toBe(500);
    failStarts = false;
    await app.inject({ method: 'GET', url: '/v1/models/pm', headers: as('tester') });
    await app.inject({ method: 'GET', url: '/v1/models/other', headers: as('tester') });
    await app.inject({ method: 'GET', url: '/no/such/path/1', headers: as('tester') });
    await app.inject({ method: 'GET', url: '/healthz' });

    const text = await scrape();
    const req = (m: string, route: string, status: number) =>
      sampleOf(text, `mloop_http_requests_total{method="${m}",route="${route}",status="${status}"}`);
    expect(req('POST', '/v1/lifecycles', 202)).toBe(2);
    expect(req('POST', '/v1/lifecycles', 400)).toBe(1);
    expect(req('POST', '/v1/lifecycles', 401)).toBe(1);
    expect(req('POST', '/v1/lifecycles', 500)).toBe(1);
    // Templates, not paths: two models are one series; unknown paths are one series too.
    expect(req('GET', '/v1/models/:name', 404)).toBe(2);
    expect(req('GET', 'unmatched', 404)).toBe(1);
    expect(req('GET', '/healthz', 200)).toBe(1);
    expect(sampleOf(text, 'mloop_lifecycle_starts_total{outcome="accepted"}')).toBe(2);
    expect(sampleOf(text, 'mloop_lifecycle_starts_total{outcome="rejected"}')).toBe(2);
    expect(sampleOf(text, 'mloop_lifecycle_starts_total{outcome="failed"}')).toBe(1);
    const count = sampleOf(
      text,
      'mloop_http_request_duration_seconds_count{method="POST",route="/v1/lifecycles",status="202"}',
    );
    expect(count).toBe(2);
    const sum = sampleOf(
      text,
      'mloop_http_request_duration_seconds_sum{method="POST",route="/v1/lifecycles",status="202"}',
    );
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(10);
    expect(text).toContain('# TYPE process_cpu_seconds_total counter');
  });

  it('serves /metrics to viewers only', async () => {
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/metrics', headers: as('only-operator') })).statusCode).toBe(403);
    // The scrape itself is counted in the next one.
    await scrape();
    expect(
      sampleOf(await scrape(), 'mloop_http_requests_total{method="GET",route="/metrics",status="200"}'),
    ).toBeGreaterThanOrEqual(2);
  });

  it('keeps each app’s series apart', async () => {
    const other = await buildApp({
      temporal: temporal.client,
      registry,
      namespace: 'default',
      webUiUrl: 'http://x',
      auth: testAuth,
    });
    const res = await other.inject({ method: 'GET', url: '/metrics', headers: as('only-viewer') });
    expect(sampleOf(res.body, 'mloop_lifecycle_starts_total{outcome="accepted"}')).toBeUndefined();
    await other.close();
  });
});
