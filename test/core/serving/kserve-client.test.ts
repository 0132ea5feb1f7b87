import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MloopError } from '../../../core/errors';
import { KServeClient, ModelServerError, type FeatureSpec } from '../../../core/serving/kserve-client';

interface Seen {
  method: string;
  url: string;
  body: unknown;
  raw: Buffer;
  headers: http.IncomingHttpHeaders;
}

/** What the in-test server answers: by default, a V2 server for model "pm" that predicts 1 for rpm > 1500. */
type Answer = { status: number; body: unknown; delayMs?: number; headers?: Record<string, string> };
type Responder = (req: Seen) => Answer | undefined;

let server: http.Server;
let baseUrl: string;
let seen: Seen[] = [];
let responder: Responder = () => undefined;

function v2(req: Seen): { status: number; body: unknown } {
  if (req.url === '/v2/health/live') return { status: 200, body: { live: true } };
  if (req.url === '/v2/models/pm/ready') return { status: 200, body: { name: 'pm', ready: true } };
  if (req.url === '/v2/models/pm' && req.method === 'GET') {
    return {
      status: 200,
      body: {
        name: 'pm',
        versions: ['3'],
        platform: 'mloop-python',
        inputs: [{ name: 'rpm', datatype: 'FP64', shape: [-1] }],
        outputs: [{ name: 'predictions', datatype: 'INT64', shape: [-1] }],
      },
    };
  }
  if (req.url === '/v2/models/pm/infer' && req.method === 'POST') {
    const inputs = (req.body as { inputs: { name: string; data: (number | null)[] }[] }).inputs;
    const rpm = inputs.find((i) => i.name === 'rpm')?.data ?? [];
    return {
      status: 200,
      body: {
        model_name: 'pm',
        model_version: '3',
        id: 'x',
        outputs: [
          {
            name: 'predictions',
            shape: [rpm.length],
            datatype: 'INT64',
            data: rpm.map((r) => ((r ?? 0) > 1500 ? 1 : 0)),
          },
          {
            name: 'probabilities',
            shape: [rpm.length],
            datatype: 'FP64',
            data: rpm.map((r) => ((r ?? 0) > 1500 ? 0.9 : 0.1)),
          },
        ],
      },
    };
  }
  return { status: 404, body: { error: `no such endpoint: ${req.method} ${req.url}` } };
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const json = req.headers['content-type'] === 'application/json' && raw.length > 0;
      const body = json ? (JSON.parse(raw.toString('utf8')) as unknown) : undefined;
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', body, raw, headers: req.headers };
      seen.push(s);
      const answer: Answer = responder(s) ?? v2(s);
      const send = (): void => {
        if (res.destroyed) return;
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        const out = answer.body;
        res.end(typeof out === 'string' || Buffer.isBuffer(out) ? out : JSON.stringify(out));
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
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
  seen = [];
  responder = () => undefined;
});

const features: FeatureSpec[] = [
  { name: 'rpm', type: 'number' },
  { name: 'cycles', type: 'integer' },
  { name: 'machine_type', type: 'string' },
];

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

describe('KServe V2 client', () => {
  it('checks liveness, readiness and metadata', async () => {
    const client = new KServeClient(`${baseUrl}/`, 'pm');
    expect(await client.live()).toBe(true);
    expect(await client.ready()).toBe(true);
    expect(await client.metadata()).toMatchObject({
      name: 'pm',
      versions: ['3'],
      inputs: [{ name: 'rpm', datatype: 'FP64' }],
    });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /v2/health/live',
      'GET /v2/models/pm/ready',
      'GET /v2/models/pm',
    ]);
  });

  it('reports not ready when the model says so, the server errs, or nothing listens', async () => {
    responder = (req) => (req.url.endsWith('/ready') ? { status: 200, body: { name: 'pm', ready: false } } : undefined);
    expect(await new KServeClient(baseUrl, 'pm').ready()).toBe(false);
    responder = () => ({ status: 503, body: { error: 'loading' } });
    expect(await new KServeClient(baseUrl, 'pm').live()).toBe(false);
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await new KServeClient(`http://127.0.0.1:${port}`, 'pm').live()).toBe(false);
  });

  it('sends one tensor per feature, with missing and NaN values as null', async () => {
    const client = new KServeClient(baseUrl, 'pm');
    const rows = [
      { rpm: 1600.5, cycles: 3, machine_type: 'lathe', other: 'ignored' },
      { rpm: NaN, cycles: null, machine_type: 7 },
      { cycles: 5 },
    ];
    const result = await client.infer(rows, features);
    // The server's metadata does not list the binary extension (404 here): JSON it is.
    expect(seen.map((x) => `${x.method} ${x.url}`)).toEqual(['GET /v2', 'POST /v2/models/pm/infer']);
    expect(seen[1]?.body).toEqual({
      inputs: [
        { name: 'rpm', shape: [3], datatype: 'FP64', data: [1600.5, null, null] },
        { name: 'cycles', shape: [3], datatype: 'INT64', data: [3, null, 5] },
        { name: 'machine_type', shape: [3], datatype: 'BYTES', data: ['lathe', '7', null] },
      ],
    });
    expect(result.predictions).toEqual([1, 0, 0]);
    expect(result.probabilities).toEqual([0.9, 0.1, 0.1]);
    expect(result.latencyMs).toBeGreaterThan(0);
  });

  it('keeps the positive class of per-class probabilities, and accepts label strings', async () => {
    responder = (req) =>
      req.url.endsWith('/infer')
        ? {
            status: 200,
            body: {
              outputs: [
                { name: 'predictions', shape: [2], datatype: 'BYTES', data: ['ok', 'fail'] },
                { name: 'probabilities', shape: [2, 2], datatype: 'FP64', data: [0.8, 0.2, 0.3, 0.7] },
              ],
            },
          }
        : undefined;
    const result = await new KServeClient(baseUrl, 'pm').infer(
      [{ rpm: 1 }, { rpm: 2 }],
      [{ name: 'rpm', type: 'number' }],
    );
    expect(result.predictions).toEqual(['ok', 'fail']);
    expect(result.probabilities).toEqual([0.2, 0.7]);
  });

  it('turns a 4xx into InvalidInput with the server’s message', async () => {
    responder = () => ({ status: 400, body: { error: 'input \'rpm\', data[1]: "x" is not a number' } });
    const err = await rejection(new KServeClient(baseUrl, 'pm').infer([{ rpm: 1 }], features));
    expect(err).toBeInstanceOf(MloopError);
    expect((err as MloopError).code).toBe('InvalidInput');
    expect(err.message).toBe('model pm rejected the request: input \'rpm\', data[1]: "x" is not a number');
    expect((err as MloopError).details).toMatchObject({ status: 400 });
    responder = () => undefined;
    const missing = await rejection(new KServeClient(baseUrl, 'other').metadata());
    expect((missing as MloopError).code).toBe('InvalidInput');
    expect(missing.message).toContain('no such endpoint: GET /v2/models/other');
  });

  it('treats 5xx, 429 and unreadable answers as transient', async () => {
    for (const [status, body] of [
      [500, { error: "predict entrypoint 'predict:predict' raised ValueError: boom" }],
      [503, '<html>bad gateway</html>'],
      [429, { error: 'slow down' }],
    ] as const) {
      responder = () => ({ status, body });
      const err = await rejection(new KServeClient(baseUrl, 'pm').infer([{ rpm: 1 }], features));
      expect(err).not.toBeInstanceOf(MloopError);
      expect(err.message).toContain(`answered ${status}`);
      expect(err.message).toContain(typeof body === 'string' ? body : body.error);
    }
    responder = () => ({ status: 200, body: { outputs: [{ name: 'predictions', data: [1, 0] }] } });
    const short = await rejection(new KServeClient(baseUrl, 'pm').infer([{ rpm: 1 }], features));
    expect(short).not.toBeInstanceOf(MloopError);
    expect(short.message).toContain('2 predictions for 1 rows');
  });

  it('times out, and stops when cancelled', async () => {
    responder = () => ({ status: 200, body: {}, delayMs: 2000 });
    const client = new KServeClient(baseUrl, 'pm');
    const timedOut = await rejection(client.infer([{ rpm: 1 }], features, { timeoutMs: 100 }));
    expect(timedOut).not.toBeInstanceOf(MloopError);
    expect(timedOut.message).toContain('timed out after 100 ms');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect((await rejection(client.infer([{ rpm: 1 }], features, { signal: controller.signal }))).message).toContain(
      'cancelled',
    );
  });

  it('fails on network errors with a plain Error', async () => {
    const err = await rejection(new KServeClient('http://127.0.0.1:1', 'pm').infer([{ rpm: 1 }], features));
    expect(err).not.toBeInstanceOf(MloopError);
    expect(err.message).toContain('KServe POST http://127.0.0.1:1/v2/models/pm/infer failed');
  });

  it('refuses values of the wrong type before sending anything, and sends nothing for no rows', async () => {
    const client = new KServeClient(baseUrl, 'pm');
    for (const [row, message] of [
      [{ rpm: '1500' }, 'rows[0].rpm: "1500" is not a finite number'],
      [{ rpm: Infinity }, 'rows[0].rpm: Infinity is not a finite number'],
      [{ cycles: 2.5 }, 'rows[0].cycles: 2.5 is not an integer'],
      [{ machine_type: { a: 1 } }, 'rows[0].machine_type: {"a":1} is not a string'],
    ] as const) {
      const err = await rejection(client.infer([row], features));
      expect((err as MloopError).code).toBe('InvalidInput');
      expect(err.message).toBe(message);
    }
    expect(await client.infer([], features)).toEqual({ predictions: [], latencyMs: 0 });
    expect(seen).toEqual([]);
  });

  describe('binary tensor data', () => {
    const speaksBinary: Responder = (req) =>
      req.url === '/v2'
        ? { status: 200, body: { name: 'mloop-python', extensions: ['binary_tensor_data'] } }
        : undefined;
    /** The JSON header and the binary blobs of a binary request, by input name. */
    const splitRequest = (req: Seen): { header: Record<string, unknown>; blobs: Record<string, Buffer> } => {
      const length = Number(req.headers['inference-header-content-length']);
      const header = JSON.parse(req.raw.subarray(0, length).toString('utf8')) as Record<string, unknown>;
      const blobs: Record<string, Buffer> = {};
      let at = length;
      for (const t of header.inputs as Array<{ name: string; parameters?: { binary_data_size: number } }>) {
        const size = t.parameters?.binary_data_size;
        if (size === undefined) continue;
        blobs[t.name] = req.raw.subarray(at, at + size);
        at += size;
      }
      expect(at).toBe(req.raw.length);
      return { header, blobs };
    };
    type Output = { name: string; datatype: string; shape: number[]; blob: Buffer };
    const binaryAnswer = (outputs: Output[]): Answer => {
      const header = Buffer.from(
        JSON.stringify({
          model_name: 'pm',
          outputs: outputs.map(({ blob, ...o }) => ({ ...o, parameters: { binary_data_size: blob.length } })),
        }),
      );
      return {
        status: 200,
        body: Buffer.concat([header, ...outputs.map((o) => o.blob)]),
        headers: {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(header.length),
        },
      };
    };
    const f64 = (values: number[]): Buffer => Buffer.from(new Float64Array(values).buffer);
    const i64 = (values: number[]): Buffer => Buffer.from(BigInt64Array.from(values, (v) => BigInt(v)).buffer);
    const texts = (values: string[]): Buffer =>
      Buffer.concat(values.flatMap((v) => [Buffer.from(Uint32Array.of(Buffer.byteLength(v)).buffer), Buffer.from(v)]));

    it('sends binary columns where they say what JSON says, and reads binary outputs', async () => {
      let request: ReturnType<typeof splitRequest> | undefined;
      responder = (req) => {
        if (!req.url.endsWith('/infer')) return speaksBinary(req);
        request = splitRequest(req);
        return binaryAnswer([
          { name: 'predictions', datatype: 'INT64', shape: [3], blob: i64([1, 0, 1]) },
          { name: 'probabilities', datatype: 'FP64', shape: [3, 2], blob: f64([0.1, 0.9, 0.8, 0.2, 0.25, 0.75]) },
        ]);
      };
      const client = new KServeClient(baseUrl, 'pm');
      const rows = [
        { rpm: 1600.5, cycles: 3, machine_type: 'lathe' },
        { rpm: NaN, cycles: null, machine_type: 'grüße' },
        { cycles: 2 ** 53, machine_type: 7 },
      ];
      const result = await client.infer(rows, features);
      expect(result.predictions).toEqual([1, 0, 1]);
      expect(result.probabilities).toEqual([0.9, 0.2, 0.75]);
      // Numbers go binary with missing ones as NaN; a missing integer has no binary form: JSON.
      expect(request?.header).toEqual({
        inputs: [
          { name: 'rpm', shape: [3], datatype: 'FP64', parameters: { binary_data_size: 24 } },
          { name: 'cycles', shape: [3], datatype: 'INT64', data: [3, null, 2 ** 53] },
          { name: 'machine_type', shape: [3], datatype: 'BYTES', parameters: { binary_data_size: 4 * 3 + 5 + 7 + 1 } },
        ],
        parameters: { binary_data_output: true },
      });
      expect(Array.from(new Float64Array(new Uint8Array(request?.blobs.rpm ?? []).buffer))).toEqual([1600.5, NaN, NaN]);
      expect(request?.blobs.machine_type).toEqual(texts(['lathe', 'grüße', '7']));

      const full = [-4, 9, 0].map((cycles) => ({ rpm: 1, cycles, machine_type: '' }));
      expect((await client.infer(full, features)).predictions).toEqual([1, 0, 1]);
      expect(request?.blobs.cycles).toEqual(i64([-4, 9, 0]));
      // The server was asked once whether it speaks binary.
      expect(seen.filter((x) => x.url === '/v2')).toHaveLength(1);
    });

    it('reads text labels, and takes an empty binary label for the missing one it stands for', async () => {
      responder = (req) =>
        req.url.endsWith('/infer')
          ? binaryAnswer([{ name: 'predictions', datatype: 'BYTES', shape: [2], blob: texts(['ok', 'fail']) }])
          : speaksBinary(req);
      const client = new KServeClient(baseUrl, 'pm');
      expect((await client.infer([{ rpm: 1 }, { rpm: 2 }], features.slice(0, 1))).predictions).toEqual(['ok', 'fail']);
      responder = (req) =>
        req.url.endsWith('/infer')
          ? binaryAnswer([{ name: 'predictions', datatype: 'BYTES', shape: [2], blob: texts(['ok', '']) }])
          : speaksBinary(req);
      const err = await rejection(client.infer([{ rpm: 1 }, { rpm: 2 }], features.slice(0, 1)));
      expect(err).toBeInstanceOf(ModelServerError);
      expect(err.message).toContain('prediction 1 is null');
    });

    it("refuses a binary answer whose sizes do not add up, as the server's fault", async () => {
      responder = (req) =>
        req.url.endsWith('/infer')
          ? binaryAnswer([{ name: 'predictions', datatype: 'INT64', shape: [2], blob: Buffer.alloc(12) }])
          : speaksBinary(req);
      const client = new KServeClient(baseUrl, 'pm');
      const err = await rejection(client.infer([{ rpm: 1 }, { rpm: 2 }], features.slice(0, 1)));
      expect(err).toBeInstanceOf(ModelServerError);
      expect((err as ModelServerError).status).toBe(200);
      expect(err.message).toContain('12 bytes are not whole INT64 values');
    });

    it('falls back to JSON for good when a binary request is refused naming no row but JSON is taken', async () => {
      // A proxy that drops the Inference-Header-Content-Length header: the server reads the body as JSON.
      responder = (req) =>
        req.url.endsWith('/infer') && req.headers['content-type'] !== 'application/json'
          ? { status: 400, body: { error: 'request body is not valid JSON: Expecting value' } }
          : speaksBinary(req);
      const client = new KServeClient(baseUrl, 'pm');
      const rows = [{ rpm: 1600 }, { rpm: 10 }];
      expect((await client.infer(rows, features.slice(0, 1))).predictions).toEqual([1, 0]);
      expect((await client.infer(rows, features.slice(0, 1))).predictions).toEqual([1, 0]);
      expect(seen.map((x) => `${x.method} ${x.url} ${x.headers['content-type']}`)).toEqual([
        'GET /v2 undefined',
        'POST /v2/models/pm/infer application/octet-stream',
        'POST /v2/models/pm/infer application/json',
        'POST /v2/models/pm/infer application/json',
      ]);
      // A refusal that JSON gets too stays a refusal (InvalidInput), and binary stays on.
      responder = (req) =>
        req.url.endsWith('/infer') ? { status: 400, body: { error: 'input rpm is not allowed' } } : speaksBinary(req);
      const other = new KServeClient(baseUrl, 'pm');
      const err = await rejection(other.infer(rows, features.slice(0, 1)));
      expect((err as MloopError).code).toBe('InvalidInput');
      seen = [];
      await rejection(other.infer(rows, features.slice(0, 1)));
      expect(seen.map((x) => x.headers['content-type'])).toEqual(['application/octet-stream', 'application/json']);
    });

    it('speaks JSON only when told to, without asking the server', async () => {
      responder = speaksBinary;
      await new KServeClient(baseUrl, 'pm', { binaryData: 'never' }).infer([{ rpm: 1600 }], features.slice(0, 1));
      expect(seen.map((x) => `${x.method} ${x.url} ${x.headers['content-type']}`)).toEqual([
        'POST /v2/models/pm/infer application/json',
      ]);
    });
  });

  it('escapes the model name in paths', async () => {
    responder = () => ({ status: 404, body: { error: 'nope' } });
    await rejection(new KServeClient(baseUrl, 'a b/c').metadata());
    expect(seen[0]?.url).toBe('/v2/models/a%20b%2Fc');
  });
});
