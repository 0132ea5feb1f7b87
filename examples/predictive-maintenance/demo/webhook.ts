import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Whether `header` is the `sha256=<hex>` HMAC of `body` under `secret`, compared in constant time. */
export function validSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!secret || !header) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const got = Buffer.from(header);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

export interface WebhookReceiver {
  /** The port it listens on (the kernel's pick when asked for 0). */
  port: number;
  /** Posts with a valid signature, and those refused (401). */
  counts(): { valid: number; refused: number };
  close(): Promise<void>;
}

/** Receives the pipeline's webhook posts on 127.0.0.1:`port` and checks their signatures. */
export async function startWebhookReceiver(port: number, secret: string): Promise<WebhookReceiver> {
  let valid = 0;
  let refused = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const ok = validSignature(secret, Buffer.concat(chunks), req.headers['x-mloop-signature'] as string | undefined);
      if (ok) valid++;
      else refused++;
      res.writeHead(ok ? 204 : 401).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} is in use: the webhook receiver needs it`) : err),
    );
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    counts: () => ({ valid, refused }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The port of the loopback receiver a pipeline's webhook sink posts to, taken from the spec so
 * the demo listens where the pipeline sends; a spec without one, or not to loopback http, is refused.
 */
export function receiverPortOf(spec: { sinks?: Array<{ name?: string; kind?: string; url?: string }> }): number {
  const sink = spec.sinks?.find((s) => s.kind === 'webhook');
  if (!sink?.url) throw new Error('the pipeline spec has no webhook sink with a url');
  const url = new URL(sink.url);
  if (url.protocol !== 'http:' || url.hostname !== '127.0.0.1')
    throw new Error(`sink ${sink.name}: the demo receives only on http://127.0.0.1 (got ${sink.url})`);
  const port = Number(url.port || 80);
  return port;
}
