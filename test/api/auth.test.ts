import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { hostAllowed, parseHost } from '../../api/plugins/allowed-hosts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app';
import { apiLoggerOptions } from '../../api/logging';
import { registerAuth } from '../../api/plugins/auth';
import type { Registry } from '../../core/registry/registry';
import { routeSamples, validStart, type RouteSample } from '../helpers/api-routes';
import { as, testAuth, tokenOf } from '../helpers/auth';
import { recordingTemporal } from '../helpers/recording-temporal';
import { newRun, newVersion, openTestRegistry } from '../helpers/registry';

type Res = Awaited<ReturnType<FastifyInstance['inject']>>;

describe('API authentication, roles and allowed hosts', () => {
  const temporal = recordingTemporal();
  const logLines: string[] = [];
  let registry: Registry;
  let app: FastifyInstance;

  beforeAll(async () => {
    registry = await openTestRegistry('auth-api');
    await registry.recordRun(newRun('pm', 'lifecycle/pm/k1/train'));
    await registry.registerVersion(newVersion('pm', 'pm-1', { trainingRunId: 'lifecycle/pm/k1/train' }));
    const stream = new Writable({
      write: (chunk: Buffer, _enc, done) => void (logLines.push(chunk.toString()), done()),
    });
    app = await buildApp({
      // The sample sources are made-up paths: these roots let them past the path check.
      allowedRoots: ['/srv/models', '/data'],
      temporal: temporal.client,
      registry,
      namespace: 'default',
      webUiUrl: 'http://127.0.0.1:8233',
      auth: { ...testAuth, allowedHosts: ['localhost', '127.0.0.1', '[::1]', 'mloop.internal', 'api.example:8443'] },
      logger: apiLoggerOptions({ level: 'debug', stream }),
    });
  });
  afterAll(async () => {
    await app?.close();
    await registry?.close();
  });

  const send = (r: RouteSample, headers: Record<string, string> = {}): Promise<Res> =>
    app.inject({ method: r.method, url: r.url, headers, ...(r.payload ? { payload: r.payload } : {}) });
  const noChange = async (): Promise<void> => {
    expect(temporal.starts).toHaveLength(0);
    expect(temporal.signals).toHaveLength(0);
    expect(temporal.updates).toHaveLength(0);
    expect(await registry.aliasHistory('pm')).toHaveLength(0);
  };
  const protectedRoutes = routeSamples.filter((r) => r.access !== 'public');

  it('declares a role for every route, and the samples cover them all', () => {
    const declared = app.routeAccess.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.url} ${r.access}`);
    expect(declared.sort()).toEqual(routeSamples.map((r) => `${r.method} ${r.route} ${r.access}`).sort());
    // GET routes answer HEAD with the same role (the public docs pages add HEAD routes of their own).
    expect(
      app.routeAccess
        .filter((r) => r.method === 'HEAD' && r.access !== 'public')
        .every((h) => app.routeAccess.some((g) => g.method === 'GET' && g.url === h.url && g.access === h.access)),
    ).toBe(true);
  });

  it('refuses to start with a route that declares no role', async () => {
    const bare = Fastify();
    registerAuth(bare, testAuth);
    expect(() => bare.get('/open', async () => ({}))).toThrow(
      'route GET /open declares no role (config.role) and is not public',
    );
    await bare.close();
  });

  it.each(protectedRoutes.map((r) => [`${r.method} ${r.route}`, r] as const))(
    'answers 401 to %s without a token, starting nothing',
    async (_name, r) => {
      const res = await send(r);
      expect(res.statusCode, res.body).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="mloop"');
      expect(res.json()).toMatchObject({ error: 'Unauthorized', message: expect.stringContaining('bearer token') });
      await noChange();
    },
  );

  it.each([
    ['an unknown token', `Bearer mloop_${'A'.repeat(43)}`],
    ['the token hash instead of the token', 'Bearer 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'],
    ['another scheme', `Basic ${Buffer.from(`tester:${tokenOf('tester')}`).toString('base64')}`],
    ['a token with a tail', `Bearer ${tokenOf('tester')} x`],
    ['two tokens', `Bearer ${tokenOf('only-viewer')}, Bearer ${tokenOf('tester')}`],
    ['an empty bearer', 'Bearer '],
    ['a cut token', `Bearer ${tokenOf('tester').slice(0, -2)}`],
  ])('answers 401 invalid_token to every route for %s', async (_name, authorization) => {
    for (const r of protectedRoutes) {
      const res = await send(r, { authorization });
      expect(res.statusCode, `${r.method} ${r.url}: ${res.body}`).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="mloop", error="invalid_token"');
      expect(res.json()).toEqual({
        error: 'Unauthorized',
        message: 'the bearer token is malformed, unknown or revoked',
      });
    }
    await noChange();
  });

  it('lets each role do its part only: viewers read, operators change, approvers neither', async () => {
    const outcome = async (subject: string): Promise<string[]> => {
      const out: string[] = [];
      for (const r of protectedRoutes) {
        const res = await send(r, as(subject));
        if (res.statusCode === 403) {
          expect(res.headers['www-authenticate']).toBe(
            `Bearer realm="mloop", error="insufficient_scope", scope="${r.access}"`,
          );
          expect(res.json()).toEqual({
            error: 'Forbidden',
            message: `"${subject}" lacks the role "${r.access}" (has: ${subject.replace('only-', '')})`,
          });
        }
        out.push(`${r.method} ${r.route} ${res.statusCode === 403 ? 'forbidden' : 'allowed'}`);
      }
      return out;
    };
    const expected = (role: string) =>
      protectedRoutes.map((r) => `${r.method} ${r.route} ${r.access === role ? 'allowed' : 'forbidden'}`);
    expect(await outcome('only-viewer')).toEqual(expected('viewer'));
    await noChange();
    expect(await outcome('only-approver')).toEqual(expected('approver'));
    // The approver's approve and reject reached the one known lifecycle, and nothing else changed.
    expect(temporal.updates.map((u) => u[0])).toEqual(['lifecycle/pm/k1', 'lifecycle/pm/k1']);
    temporal.updates.length = 0;
    await noChange();
    expect(await outcome('only-operator')).toEqual(expected('operator'));
    // A lifecycle, a deploy, a drift check and a pipeline started, one abort signalled.
    expect(temporal.starts).toHaveLength(4);
    expect(temporal.signals).toHaveLength(1);
  });

  it("records the token's subject as the requester and ignores x-mloop-user", async () => {
    temporal.starts.length = 0;
    temporal.signals.length = 0;
    const forged = { ...as('alice'), 'x-mloop-user': 'mallory' };
    const started = await app.inject({
      method: 'POST',
      url: '/v1/lifecycles',
      headers: forged,
      payload: { ...validStart, key: 'who' },
    });
    expect(started.statusCode, started.body).toBe(202);
    const [, options] = temporal.starts[0] as [string, { args: Array<{ requestedBy: string }> }];
    expect(options.args[0]!.requestedBy).toBe('alice');

    const aborted = await app.inject({
      method: 'POST',
      url: '/v1/lifecycles/pm/k1/abort',
      headers: forged,
      payload: { reason: 'stop' },
    });
    expect(aborted.statusCode, aborted.body).toBe(202);
    expect(temporal.signals[0]![2]).toEqual({ reason: 'stop', by: 'alice' });

    const moved = await app.inject({
      method: 'PUT',
      url: '/v1/models/pm/aliases/champion',
      headers: forged,
      payload: { version: 1 },
    });
    expect(moved.json()).toMatchObject({ by: 'alice' });
    const removed = await app.inject({
      method: 'DELETE',
      url: '/v1/models/pm/aliases/champion',
      headers: { ...as('bob'), 'x-mloop-user': 'mallory' },
    });
    expect(removed.json()).toMatchObject({ by: 'bob' });
    expect((await registry.aliasHistory('pm')).map((m) => m.by).slice(-2)).toEqual(['alice', 'bob']);
  });

  it('accepts the scheme in any case', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/models',
      headers: { authorization: `bearer ${tokenOf('only-viewer')}` },
    });
    expect(res.statusCode, res.body).toBe(200);
  });

  it('answers /healthz without a token, and unknown paths only with one', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ ok: true });
    const anon = await app.inject({ method: 'GET', url: '/v1/secrets' });
    expect(anon.statusCode).toBe(401);
    const known = await app.inject({ method: 'GET', url: '/v1/secrets', headers: as('only-approver') });
    expect(known.statusCode).toBe(404);
    expect(known.json()).toEqual({ error: 'NotFound', message: 'no route GET /v1/secrets' });
  });

  it.each([
    ['localhost:8080', 200],
    ['LOCALHOST', 200],
    ['127.0.0.1:8080', 200],
    ['[::1]:8080', 200],
    ['mloop.internal:8080', 200],
    ['api.example:8443', 200],
    ['api.example:8080', 421],
    ['evil.example:8080', 421],
    ['localhost.evil.example', 421],
    ['127.0.0.1.nip.io:8080', 421],
    ['localhost.', 421],
    ['user@localhost:8080', 421],
    ['localhost:8080:9', 421],
  ])('Host %j gets %i, even with a valid token', async (host, status) => {
    for (const r of routeSamples.filter((x) => x.method === 'GET')) {
      const res = await app.inject({ method: 'GET', url: r.url, headers: { ...as('tester'), host } });
      if (status === 421) {
        expect(res.statusCode, `${r.url}: ${res.body}`).toBe(421);
        expect(res.json()).toMatchObject({
          error: 'MisdirectedRequest',
          message: expect.stringContaining('is not a name of this API'),
        });
      } else {
        expect(res.statusCode, `${r.url}: ${res.body}`).not.toBe(421);
      }
    }
  });

  it('refuses a request without a Host header', () => {
    const allowed = [parseHost('localhost')!];
    expect(hostAllowed(undefined, allowed)).toBe(false);
    expect(hostAllowed('', allowed)).toBe(false);
    expect(hostAllowed('localhost', allowed)).toBe(true);
  });

  it('refuses a start from a rebinding host before reading its body', async () => {
    temporal.starts.length = 0;
    const res = await app.inject({
      method: 'POST',
      url: '/v1/lifecycles',
      headers: { ...as('tester'), host: 'attacker.example' },
      payload: validStart,
    });
    expect(res.statusCode).toBe(421);
    expect(temporal.starts).toHaveLength(0);
  });

  it('never writes a token to the log, and logs who sent each request', async () => {
    logLines.length = 0;
    const token = tokenOf('carol');
    await app.inject({ method: 'GET', url: '/v1/models', headers: as('carol') });
    await app.inject({ method: 'GET', url: `/v1/models?access_token=${token}`, headers: as('carol') });
    await app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: `Bearer ${token}x` } });
    await app.inject({ method: 'GET', url: `/v1/runs/${token}`, headers: as('carol') });
    const log = logLines.join('');
    expect(logLines.length).toBeGreaterThan(4);
    expect(log).not.toContain(token);
    expect(log).not.toContain(token.slice(6));
    const completed = logLines
      .map((l) => JSON.parse(l) as { msg: string; subject?: string })
      .filter((l) => l.msg === 'request completed');
    expect(completed.map((l) => l.subject)).toEqual(['carol', 'carol', undefined, 'carol']);
  });
});
