import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, type Registry } from 'prom-client';

export interface MetricsServerOptions {
  host: string;
  /** 0: a free port. */
  port: number;
  registry: Registry;
  /** The Temporal SDK's own exporter on loopback, whose series are appended to each scrape. */
  sdkMetricsUrl?: string;
  /** How long a scrape waits for the SDK's exporter. */
  sdkTimeoutMs?: number;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The worker's small HTTP listener: `/metrics` (mloop's series, the process's, and the Temporal
 * SDK's `temporal_*` ones in one scrape) and `/healthz`. It binds before the worker connects, so a
 * port already taken stops the process at start.
 */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  collectDefaultMetrics({ register: o.registry });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://worker');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    if (url.pathname === '/healthz') return send(res, 200, 'application/json', '{"ok":true}\n');
    if (url.pathname !== '/metrics') return send(res, 404, 'text/plain', 'not found\n');
    scrape(o).then(
      (body) => send(res, 200, o.registry.contentType, body),
      (err: unknown) => send(res, 500, 'text/plain', `metrics failed: ${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  }).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`the worker's metrics listener cannot bind ${o.host}:${o.port} (${err.code ?? err.message})`);
  });
  const { port } = server.address() as AddressInfo;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function scrape(o: MetricsServerOptions): Promise<string> {
  const ours = await o.registry.metrics();
  if (!o.sdkMetricsUrl) return ours;
  try {
    const res = await fetch(o.sdkMetricsUrl, { signal: AbortSignal.timeout(o.sdkTimeoutMs ?? 2_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return `${ours}\n${await res.text()}`;
  } catch (err) {
    // Our series still go out; the gap in temporal_* series shows that the SDK's exporter failed.
    const why = String((err as Error).message ?? err).replace(/\s+/g, ' ');
    return `${ours}\n# the Temporal SDK's metrics were not available: ${why}\n`;
  }
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A port free on loopback now, for the SDK's exporter, which needs a fixed address. */
export async function freeLoopbackPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
