import net from 'node:net';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { kafkaCheck, registerReadiness, type ReadinessCheck } from '../../api/plugins/readiness';
import { ErrorBody } from '../../api/schemas/errors';

const ok: ReadinessCheck = { name: 'registry', check: async () => undefined };
const hangs: ReadinessCheck = { name: 'temporal', check: () => new Promise(() => undefined) };

async function appWith(checks: ReadinessCheck[], timeoutMs = 300): Promise<FastifyInstance> {
  const app = Fastify();
  app.addSchema(ErrorBody);
  registerReadiness(app, { checks, timeoutMs });
  await app.ready();
  return app;
}

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('/readyz', () => {
  const listener = net.createServer((socket) => socket.destroy());
  afterAll(() => new Promise((r) => listener.close(r)));

  it('is ready when every dependency answers', async () => {
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const broker = `127.0.0.1:${(listener.address() as AddressInfo).port}`;
    const app = await appWith([ok, kafkaCheck([`127.0.0.1:${await closedPort()}`, broker])]);
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ ready: true, checks: { registry: { ok: true }, kafka: { ok: true } } });
    await app.close();
  });

  it('answers 503 naming a broker address that refuses, without the address', async () => {
    const port = await closedPort();
    const app = await appWith([ok, kafkaCheck([`127.0.0.1:${port}`])]);
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode, res.body).toBe(503);
    expect(res.json()).toMatchObject({
      error: 'Unavailable',
      message: 'not ready: kafka (ECONNREFUSED)',
      checks: { registry: { ok: true }, kafka: { ok: false, reason: 'ECONNREFUSED' } },
    });
    expect(res.body).not.toContain(String(port));
    await app.close();
  });

  it('never waits longer than its timeout, however many checks hang', async () => {
    const app = await appWith([hangs, { ...hangs, name: 'kafka' }, ok], 300);
    const started = Date.now();
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    const took = Date.now() - started;
    expect(res.statusCode).toBe(503);
    expect(res.json<{ message: string }>().message).toBe(
      'not ready: temporal (timed out after 300 ms), kafka (timed out after 300 ms)',
    );
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1500);
    await app.close();
  });

  it('gives a check that throws something odd a plain reason', async () => {
    const odd: ReadinessCheck = {
      name: 'registry',
      check: () => Promise.reject(Object.assign(new Error('x'), { name: 'no such thing: /secret/path' })),
    };
    const app = await appWith([odd]);
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.json()).toMatchObject({ message: 'not ready: registry (failed)' });
    await app.close();
  });
});
