import { createHmac } from 'node:crypto';
import type { SinkWriter } from './sink-runner';

/**
 * Posts each record (its JSON value, byte for byte) to a URL with an HMAC-SHA256 signature of
 * the body in `x-mloop-signature: sha256=<hex>` and its source position in
 * `x-mloop-delivery`, which receivers can use to ignore a repeated delivery. Network errors,
 * timeouts, 408, 429 and 5xx are retried with exponential backoff for as long as the sink
 * runs (the records wait); any other answer outside 2xx refuses the record for good.
 */
export interface WebhookSinkOptions {
  url: string;
  secret: string;
  timeoutMs?: number;
  /** First and longest wait between attempts (0.25 s, 30 s). */
  backoffMs?: [number, number];
  onRetry?: (reason: string) => void;
}

export const signatureHeader = 'x-mloop-signature';
export const deliveryHeader = 'x-mloop-delivery';

export function sign(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

const retryable = (status: number): boolean => status === 408 || status === 429 || status >= 500;

export function createWebhookSink(o: WebhookSinkOptions): SinkWriter {
  if (!o.secret) throw new Error('the webhook sink needs a secret to sign with');
  const [first, longest] = o.backoffMs ?? [250, 30_000];
  return {
    async write(rows, signal) {
      const refused = [];
      for (const { record } of rows) {
        const body = record.value;
        const headers = {
          'content-type': 'application/json',
          [signatureHeader]: sign(o.secret, body),
          [deliveryHeader]: `${record.topic}/${record.partition}/${record.offset}`,
        };
        for (let attempt = 1; ; attempt++) {
          if (signal.aborted) throw new Error('the webhook sink was stopped');
          let problem: string;
          try {
            const res = await fetch(o.url, {
              method: 'POST',
              body,
              headers,
              signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs ?? 10_000)]),
            });
            const text = await res.text().catch(() => '');
            if (res.ok) break;
            problem = `${o.url} answered ${res.status}: ${text.slice(0, 200)}`;
            if (!retryable(res.status)) {
              refused.push({ record, reason: `webhook ${problem}` });
              break;
            }
          } catch (err) {
            problem = `${o.url}: ${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message}`;
          }
          o.onRetry?.(problem);
          await new Promise((r) => setTimeout(r, Math.min(longest, first * 2 ** (attempt - 1))));
        }
      }
      return refused;
    },
  };
}
