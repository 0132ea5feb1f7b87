import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KServeClient, type FeatureSpec } from '../../../core/serving/kserve-client';
import { inferEachRow } from '../../../core/serving/row-isolation';

/**
 * A V2 server over real HTTP that predicts `rpm > 1500` and fails on chosen rows: rpm above
 * 10,000 is out of range (400), rpm 777 makes predict raise (500).
 */
type Mode = 'lists-bad-rows' | 'plain-400' | 'down';

let server: http.Server;
let baseUrl: string;
let mode: Mode = 'lists-bad-rows';
let requests: number[] = [];

function answer(rpm: number[]): { status: number; body: unknown } {
  const bad = rpm.flatMap((r, row) => (r > 10_000 ? [{ row, error: `input 'rpm': ${r} is above max 10000` }] : []));
  if (bad.length > 0) {
    const error = `${bad.length} bad values: ${bad.map((b) => b.error).join('; ')}`;
    return { status: 400, body: mode === 'lists-bad-rows' ? { error, row_errors: bad } : { error } };
  }
  if (rpm.includes(777)) return { status: 500, body: { error: 'predict raised ValueError: 777 is cursed' } };
  const data = rpm.map((r) => (r > 1500 ? 1 : 0));
  return { status: 200, body: { outputs: [{ name: 'predictions', shape: [rpm.length], datatype: 'INT64', data }] } };
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // A V2 server without the binary extension: its metadata (GET /v2) is not found here.
      if (req.method !== 'POST') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: `no such endpoint: ${req.method} ${req.url}` }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { inputs: { name: string; data: number[] }[] };
      const rpm = body.inputs.find((i) => i.name === 'rpm')?.data ?? [];
      requests.push(rpm.length);
      const a = mode === 'down' ? { status: 503, body: { error: 'too many connections' } } : answer(rpm);
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  requests = [];
  mode = 'lists-bad-rows';
});

const features: FeatureSpec[] = [{ name: 'rpm', type: 'number' }];
const rowsOf = (rpm: number[]): { rpm: number }[] => rpm.map((r) => ({ rpm: r }));
const summary = (outcomes: Awaited<ReturnType<typeof inferEachRow>>): Array<number | string> =>
  outcomes.map((o) => (o.ok ? o.prediction : o.failure));

describe('inference that isolates failing rows', () => {
  it('drops the rows a 400 names and scores the rest with one more request', async () => {
    const client = new KServeClient(baseUrl, 'pm');
    const outcomes = await inferEachRow(client, rowsOf([1000, 20_000, 2000, 1200, 50_000, 3000]), features);
    expect(summary(outcomes)).toEqual([0, 'rejected', 1, 0, 'rejected', 1]);
    expect(outcomes[1]).toEqual({ ok: false, failure: 'rejected', error: "input 'rpm': 20000 is above max 10000" });
    expect(requests).toEqual([6, 4]);
    for (const o of outcomes) if (o.ok) expect(o.latencyMs).toBeGreaterThan(0);
  });

  it('bisects a 400 that names no rows (other V2 servers) down to the bad row', async () => {
    mode = 'plain-400';
    const rpm = Array.from({ length: 64 }, (_, i) => 1000 + 20 * i);
    rpm[37] = 99_999;
    const outcomes = await inferEachRow(new KServeClient(baseUrl, 'pm'), rowsOf(rpm), features);
    expect(summary(outcomes)).toEqual(rpm.map((r) => (r > 10_000 ? 'rejected' : r > 1500 ? 1 : 0)));
    // One failed request per level down to the single row, and one good one beside each: 1 + 2·log2(64).
    expect(requests.length).toBe(13);
  });

  it('isolates a row that makes predict fail (500) as model_error', async () => {
    const outcomes = await inferEachRow(new KServeClient(baseUrl, 'pm'), rowsOf([1000, 777, 2000, 3000]), features);
    expect(summary(outcomes)).toEqual([0, 'model_error', 1, 1]);
    expect(outcomes[1]).toMatchObject({ failure: 'model_error', error: expect.stringContaining('777 is cursed') });
  });

  it('does not split when the server is unavailable: one request, every row unavailable', async () => {
    mode = 'down';
    const outcomes = await inferEachRow(new KServeClient(baseUrl, 'pm'), rowsOf([1, 2, 3, 4]), features);
    expect(summary(outcomes)).toEqual(Array(4).fill('unavailable'));
    expect(requests).toEqual([4]);
    const gone = await inferEachRow(new KServeClient('http://127.0.0.1:1', 'pm'), rowsOf([1, 2]), features);
    expect(summary(gone)).toEqual(['unavailable', 'unavailable']);
  });

  it('spends at most its budget on a batch where every row fails, then fails what is left', async () => {
    const client = new KServeClient(baseUrl, 'pm');
    const outcomes = await inferEachRow(client, rowsOf(Array(1000).fill(777)), features, { maxExtraRequests: 10 });
    expect(summary(outcomes)).toEqual(Array(1000).fill('model_error'));
    expect(requests.length).toBeLessThanOrEqual(11);
  });

  it('isolates a row the client itself refuses to encode', async () => {
    const rows = [{ rpm: 1000 }, { rpm: 'fast' }, { rpm: 2000 }];
    const outcomes = await inferEachRow(new KServeClient(baseUrl, 'pm'), rows, features);
    expect(summary(outcomes)).toEqual([0, 'rejected', 1]);
    expect(await inferEachRow(new KServeClient(baseUrl, 'pm'), [], features)).toEqual([]);
  });
});
