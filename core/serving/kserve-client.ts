import { MloopError } from '../errors';
import { binaryExtension, binaryHeader, decodeBinaryResponse, encodeBinaryRequest } from './v2-binary';
import { columnsOf, decodeOutputs, encodeInputs, type FeatureSpec } from './v2-tensors';

export type { FeatureSpec, FeatureType } from './v2-tensors';

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions?: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface InferOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface InferResult {
  predictions: Array<number | string>;
  /** The positive class's probability per row, when the model gives them. */
  probabilities?: number[];
  /** Wall time of the request, response body included. */
  latencyMs: number;
}

export interface KServeClientOptions {
  /** Default time limit of an inference request (30 s). */
  timeoutMs?: number;
  /** Time limit of health and metadata requests (5 s). */
  probeTimeoutMs?: number;
  /**
   * Send and receive tensors in the binary data extension: `auto` (the default) when the
   * server's metadata (`GET /v2`) lists `binary_tensor_data`, `never` for JSON only.
   */
  binaryData?: 'auto' | 'never';
}

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

// Request timeout and rate limiting are worth retrying; other 4xx are the request's fault.
const transientStatuses = new Set([408, 429]);

/**
 * The server answered, but with an error or an answer that does not fit (`status` 200 then):
 * transient as far as retries go, yet unlike a network failure it says the server is up, so
 * the rows of the request can be tried apart (see row-isolation.ts).
 */
export class ModelServerError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ModelServerError';
  }
}

/** A row the server named as bad in a 400 answer: its position in the request and why. */
export interface RowError {
  row: number;
  error: string;
}

/**
 * An Open Inference Protocol (KServe V2) REST client over global fetch, for one model. Errors
 * follow the taxonomy: a request the server rejects (4xx) is `InvalidInput`, which retrying
 * cannot fix; server errors, timeouts and network failures are plain (transient) Errors.
 */
export class KServeClient {
  private readonly base: string;
  private readonly modelPath: string;
  private binary: Promise<boolean> | undefined;

  constructor(
    baseUrl: string,
    readonly modelName: string,
    private readonly opts: KServeClientOptions = {},
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
    this.modelPath = `/v2/models/${encodeURIComponent(modelName)}`;
  }

  /** Whether the server answers its liveness endpoint; false when it answers otherwise or not at all. */
  async live(): Promise<boolean> {
    return this.probe('/v2/health/live', 'live');
  }

  /** Whether the model is ready for inference; false when it is not, or the server cannot be reached. */
  async ready(): Promise<boolean> {
    return this.probe(`${this.modelPath}/ready`, 'ready');
  }

  async metadata(): Promise<ModelMetadata> {
    const a = await this.request('GET', this.modelPath, undefined, { timeoutMs: this.opts.probeTimeoutMs ?? 5000 });
    this.check(a, 'GET', this.modelPath);
    const m = a.body as Partial<ModelMetadata> | null;
    if (!m || typeof m.name !== 'string' || !Array.isArray(m.inputs) || !Array.isArray(m.outputs)) {
      throw new Error(`${this.describe('GET', this.modelPath)}: unexpected metadata ${a.text.slice(0, 200)}`);
    }
    return m as ModelMetadata;
  }

  /**
   * Scores rows in one request; missing and NaN feature values are sent as null. Rows are any
   * objects (typed interfaces included), read by feature name.
   */
  async infer(
    rows: readonly object[],
    features: readonly FeatureSpec[],
    opts: InferOptions = {},
  ): Promise<InferResult> {
    if (rows.length === 0) return { predictions: [], latencyMs: 0 };
    const path = `${this.modelPath}/infer`;
    const columns = columnsOf(rows, features); // bad values are refused before anything is sent
    const started = performance.now();
    const send = (binary: boolean): Promise<Answer> => {
      const request = binary ? encodeBinaryRequest(columns, features) : undefined;
      const body = request?.body ?? JSON.stringify({ inputs: encodeInputs(rows, features, columns) });
      return this.request('POST', path, body, {
        signal: opts.signal,
        timeoutMs: opts.timeoutMs ?? this.opts.timeoutMs ?? 30_000,
        headers: request ? { [binaryHeader]: String(request.headerLength) } : undefined,
      });
    };
    const binary = await this.speaksBinary();
    let a = await send(binary);
    if (binary && a.status === 400 && rowErrorsOf(a.body, rows.length).length === 0) {
      // A refusal that names no row may be the binary form itself (a proxy that drops the
      // Inference-Header-Content-Length header): the same rows in JSON tell. If JSON is taken,
      // this client speaks JSON from now on rather than have every row refused.
      const json = await send(false);
      if (json.status !== 400) this.binary = Promise.resolve(false);
      a = json;
    }
    const latencyMs = performance.now() - started;
    this.check(a, 'POST', path, rowErrorsOf(a.body, rows.length));
    try {
      return { ...decodeOutputs(a.body, rows.length, this.describe('POST', path)), latencyMs };
    } catch (err) {
      throw new ModelServerError((err as Error).message, a.status);
    }
  }

  /**
   * Whether the server takes binary tensors, asked once: a server that answers `GET /v2`
   * without the extension (or not at all, say 404) gets JSON. When it cannot be reached the
   * question stays open and this request goes as JSON.
   */
  private async speaksBinary(): Promise<boolean> {
    if (this.opts.binaryData === 'never') return false;
    this.binary ??= this.request('GET', '/v2', undefined, { timeoutMs: this.opts.probeTimeoutMs ?? 5000 }).then(
      (a) => {
        const extensions = (a.body as { extensions?: unknown } | undefined)?.extensions;
        return a.status === 200 && Array.isArray(extensions) && extensions.includes(binaryExtension);
      },
      () => {
        this.binary = undefined;
        return false;
      },
    );
    return this.binary;
  }

  private async probe(path: string, field: string): Promise<boolean> {
    try {
      const a = await this.request('GET', path, undefined, { timeoutMs: this.opts.probeTimeoutMs ?? 5000 });
      const flag =
        typeof a.body === 'object' && a.body !== null ? (a.body as Record<string, unknown>)[field] : undefined;
      return a.status === 200 && flag !== false;
    } catch {
      return false;
    }
  }

  private describe(method: string, path: string): string {
    return `KServe ${method} ${this.base}${path}`;
  }

  private async request(
    method: 'GET' | 'POST',
    path: string,
    body: string | Buffer | undefined,
    opts: InferOptions & { headers?: Record<string, string> },
  ): Promise<Answer> {
    const what = this.describe(method, path);
    const timeout = opts.timeoutMs !== undefined ? AbortSignal.timeout(opts.timeoutMs) : undefined;
    const signals = [opts.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
    if (opts.signal?.aborted) throw new Error(`${what} was cancelled`);
    let status: number;
    let bytes: Buffer;
    let headerLength: string | null;
    try {
      const contentType = typeof body === 'string' ? 'application/json' : 'application/octet-stream';
      const res = await fetch(`${this.base}${path}`, {
        method,
        body,
        headers: body === undefined ? {} : { 'content-type': contentType, ...opts.headers },
        signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
      });
      status = res.status;
      bytes = Buffer.from(await res.arrayBuffer());
      headerLength = res.headers.get(binaryHeader);
    } catch (err) {
      if (opts.signal?.aborted) throw new Error(`${what} was cancelled`);
      if (timeout?.aborted) throw new Error(`${what} timed out after ${opts.timeoutMs} ms`);
      const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
      throw new Error(`${what} failed: ${cause}`);
    }
    if (headerLength !== null && status === 200) {
      try {
        return { status, body: decodeBinaryResponse(bytes, Number(headerLength), what), text: '(binary response)' };
      } catch (err) {
        throw new ModelServerError((err as Error).message, status);
      }
    }
    const text = bytes.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status, body: parsed, text };
  }

  private check(a: Answer, method: string, path: string, rowErrors: RowError[] = []): void {
    if (a.status >= 200 && a.status < 300) return;
    const error = typeof a.body === 'object' && a.body !== null ? (a.body as Record<string, unknown>).error : undefined;
    const message = typeof error === 'string' ? error : a.text.trim().slice(0, 500) || '(no message)';
    const what = `${this.describe(method, path)} answered ${a.status}: ${message}`;
    if (a.status >= 400 && a.status < 500 && !transientStatuses.has(a.status)) {
      throw new MloopError('InvalidInput', `model ${this.modelName} rejected the request: ${message}`, {
        status: a.status,
        url: `${this.base}${path}`,
        ...(rowErrors.length > 0 ? { rowErrors } : {}),
      });
    }
    throw new ModelServerError(what, a.status);
  }
}

/**
 * The `row_errors` of a 400 answer (mloop's server lists the bad rows of a request there; other
 * V2 servers do not): entries that name a row of this request, or none.
 */
function rowErrorsOf(body: unknown, rows: number): RowError[] {
  const list = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).row_errors : undefined;
  if (!Array.isArray(list)) return [];
  return list.flatMap((e: unknown) => {
    const { row, error } = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
    const inRange = typeof row === 'number' && Number.isInteger(row) && row >= 0 && row < rows;
    return inRange && typeof error === 'string' ? [{ row, error }] : [];
  });
}
