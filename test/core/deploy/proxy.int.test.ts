import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MloopError } from '../../../core/errors';
import type { DeploymentId } from '../../../core/deploy/names';
import { continuousRequests } from '../../helpers/load';
import { startTestProxy, type TestProxy } from '../../helpers/proxy';
import { until } from '../../helpers/until';

/** A stand-in V2 server that tells its version: enough to see where the proxy sends requests. */
interface FakeServer {
  port: number;
  close: () => Promise<void>;
}

async function v2Server(model: string, version: string, opts: { ready?: boolean } = {}): Promise<FakeServer> {
  const server = http.createServer((req, res) => {
    const body = (status: number, payload: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const ready = opts.ready !== false;
    if (req.url === `/v2/models/${model}/ready`) return body(ready ? 200 : 503, { ready });
    // A little latency, so requests are in flight when the proxy switches.
    req.resume();
    req.on('end', () => setTimeout(() => body(200, { model_name: model, model_version: version, outputs: [] }), 5));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const infer = (url: string, model: string): Promise<Response> =>
  fetch(`${url}/v2/models/${model}/infer`, {
    method: 'POST',
    body: JSON.stringify({ inputs: [] }),
    headers: { 'content-type': 'application/json' },
  });
const atLeast = (counts: Record<string, number>, version: string, n: number) => async (): Promise<true | undefined> =>
  (counts[version] ?? 0) >= n ? true : undefined;

describe('HAProxy endpoints (real HAProxy from scripts/lib/proxy.sh)', () => {
  let t: TestProxy;
  const closers: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    t = await startTestProxy('endpoints');
  });
  afterAll(async () => {
    await t?.destroy();
    for (const close of closers) await close();
  });

  it('creates a stable endpoint once, and switches versions behind it with zero failed requests', async () => {
    const id: DeploymentId = { model: 'pm', environment: 'production' };
    const endpoint = await t.proxy.ensureEndpoint(id);
    expect(endpoint).toMatchObject({ name: 'pm.production', url: `http://127.0.0.1:${endpoint.port}` });
    expect(await t.proxy.ensureEndpoint(id)).toEqual(endpoint);
    // No server yet: the endpoint answers, with 503.
    expect((await infer(endpoint.url, 'pm')).status).toBe(503);

    const blue = await v2Server('pm', '1');
    const green = await v2Server('pm', '2');
    closers.push(blue.close, green.close);
    await t.proxy.addServer(id, { name: 'v1', host: '127.0.0.1', port: blue.port });
    expect((await t.proxy.servers(id)).map((s) => [s.name, s.state])).toEqual([['v1', 'maint']]);
    await t.proxy.waitForHealthy(id, 'v1', { timeoutMs: 10_000 });
    await t.proxy.switchTo(id, 'v1');
    expect((await (await infer(endpoint.url, 'pm')).json()) as unknown).toMatchObject({ model_version: '1' });

    const load = continuousRequests(() => infer(endpoint.url, 'pm'));
    await until('some requests on v1', atLeast(load.report.byVersion, '1', 50), 20_000, 20);
    await t.proxy.addServer(id, { name: 'v2', host: '127.0.0.1', port: green.port });
    await t.proxy.waitForHealthy(id, 'v2', { timeoutMs: 10_000 });
    const switched = await t.proxy.switchTo(id, 'v2');
    expect(switched.drained).toEqual(['v1']);
    expect(switched.forced).toBe(0);
    const onV2 = load.report.byVersion['2'] ?? 0;
    await until('requests on v2 after the switch', atLeast(load.report.byVersion, '2', onV2 + 50), 20_000, 20);
    const seenV1 = load.report.byVersion['1'];
    await new Promise((r) => setTimeout(r, 300));
    expect(load.report.byVersion['1'], 'no request reaches v1 once it is drained').toBe(seenV1);
    await t.proxy.removeServer(id, 'v1');
    // Creating and retiring other endpoints reloads HAProxy: this one keeps answering throughout.
    for (const environment of ['staging', 'qa', 'dev']) {
      await t.proxy.ensureEndpoint({ model: 'pm', environment });
      await t.proxy.removeEndpoint({ model: 'pm', environment });
    }
    const report = await load.stop();
    console.log(`proxy switch v1 -> v2 and 6 reloads: sent ${report.sent}, failed ${report.failed}`, report.byVersion);
    expect(report.failures).toEqual([]);
    expect(report.failed).toBe(0);
    expect((await t.proxy.servers(id)).map((s) => [s.name, s.state])).toEqual([['v2', 'ready']]);
  });

  it('refuses to switch to a server whose health check fails, naming the check', async () => {
    const id: DeploymentId = { model: 'sick', environment: 'staging' };
    await t.proxy.ensureEndpoint(id);
    const sick = await v2Server('sick', '1', { ready: false });
    closers.push(sick.close);
    await t.proxy.addServer(id, { name: 'v1', host: '127.0.0.1', port: sick.port });
    const err = await t.proxy.waitForHealthy(id, 'v1', { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MloopError);
    expect((err as MloopError).code).toBe('DeploymentFailed');
    expect((err as MloopError).message).toMatch(/v1 did not pass the proxy's health check .*last check L7STS 503/);
    await expect(t.proxy.switchTo(id, 'v1')).rejects.toThrow(
      /refusing to switch sick.staging to v1: its last health check is L7STS 503/,
    );
  });

  it('keeps endpoints, ports and server states across a restart of the proxy', async () => {
    const id: DeploymentId = { model: 'pm', environment: 'production' };
    const before = await t.proxy.getEndpoint(id);
    await t.stop();
    await t.start();
    expect(await t.proxy.getEndpoint(id)).toEqual(before);
    const healthy = async (): Promise<true | undefined> =>
      (await t.proxy.servers(id)).some((s) => s.healthy) ? true : undefined;
    await until('v2 healthy again', healthy, 10_000);
    expect((await t.proxy.servers(id)).map((s) => [s.name, s.state])).toEqual([['v2', 'ready']]);
    expect((await (await infer(before?.url ?? '', 'pm')).json()) as unknown).toMatchObject({ model_version: '2' });
  });

  it('creates endpoints asked for at the same time once each', async () => {
    const ids = ['a', 'b', 'c'].map((model) => ({ model, environment: 'staging' }));
    const created = await Promise.all([...ids, ...ids].map((id) => t.proxy.ensureEndpoint(id)));
    expect(new Set(created.map((e) => `${e.name}:${e.port}`)).size).toBe(3);
    const names = (await t.proxy.listEndpoints()).map((e) => e.name);
    expect(names.filter((n) => ['a.staging', 'b.staging', 'c.staging'].includes(n))).toHaveLength(3);
    expect(await t.proxy.api.hasBackend('c.staging')).toBe(true);
  });

  it('retires an endpoint: its port stops answering, the others stay', async () => {
    const id = { model: 'a', environment: 'staging' };
    const endpoint = await t.proxy.ensureEndpoint(id);
    await t.proxy.removeEndpoint(id);
    await t.proxy.removeEndpoint(id);
    expect(await t.proxy.getEndpoint(id)).toBeUndefined();
    await expect(fetch(`${endpoint.url}/v2/health/ready`)).rejects.toThrow();
    expect(await t.proxy.api.hasBackend('b.staging')).toBe(true);
  });

  it('names the field of a bad deployment or server name', async () => {
    await expect(t.proxy.ensureEndpoint({ model: 'Bad Name', environment: 'staging' })).rejects.toThrow(
      /^model: "Bad Name" is not a model name/,
    );
    await expect(t.proxy.ensureEndpoint({ model: 'pm', environment: 'prod.eu' })).rejects.toThrow(/^environment: /);
    const server = { name: 'x y;shutdown', host: '127.0.0.1', port: 1 };
    await expect(t.proxy.addServer({ model: 'pm', environment: 'production' }, server)).rejects.toThrow(/^server: /);
    const nowhere = t.proxy.addServer({ model: 'nope', environment: 'staging' }, { ...server, name: 'v1' });
    await expect(nowhere).rejects.toThrow(/nope.staging has no endpoint/);
  });
});
