import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../../../core/kafka/adapter';
import { runSink, type SinkStatus } from '../../../core/connectors/sink-runner';
import { createWebhookSink, deliveryHeader, signatureHeader } from '../../../core/connectors/webhook-sink';
import { deadLetterHeaders } from '../../../core/pipeline/dead-letter';
import { testNames } from '../../helpers/stack';
import { until } from '../../helpers/until';
import { brokers, deleteTopics, readTopic } from '../pipeline/streams';
import { connectorPipeline } from './pipelines';
import { freePort } from './services';

const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deleteTopics(p).catch(() => undefined);
});

const secret = 'webhook-test-secret';

/** A receiver that checks each signature as a user's endpoint would, and records what it accepted. */
function receiver(port: number): {
  deliveries: Map<string, string>;
  badSignatures: number;
  answer503: number;
  start(): Promise<void>;
  stop(): Promise<void>;
} {
  let server: http.Server | null = null;
  const state = {
    deliveries: new Map<string, string>(),
    badSignatures: 0,
    answer503: 0,
    start: () =>
      new Promise<void>((resolve) => {
        server = http.createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            const body = Buffer.concat(chunks);
            const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
            const got = Buffer.from(String(req.headers[signatureHeader] ?? ''));
            if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
              state.badSignatures++;
              res.writeHead(401).end('bad signature');
              return;
            }
            if (state.answer503 > 0) {
              state.answer503--;
              res.writeHead(503).end('busy');
              return;
            }
            if ((JSON.parse(body.toString()) as { reject?: boolean }).reject) {
              res.writeHead(422).end('cannot take this one');
              return;
            }
            state.deliveries.set(String(req.headers[deliveryHeader]), body.toString());
            res.writeHead(204).end();
          });
        });
        server.listen(port, '127.0.0.1', () => resolve());
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.closeAllConnections();
        server.close(() => resolve());
        server = null;
      }),
  };
  return state;
}

describe('webhook sink', () => {
  it(
    'posts each record signed with HMAC-SHA256, retries while the receiver is away, and ' +
      'dead-letters what it refuses',
    async () => {
      const { prefix } = testNames('webhook-sink');
      prefixes.push(prefix);
      const port = await freePort();
      const url = `http://127.0.0.1:${port}/alerts`;
      const pipeline = await connectorPipeline(
        prefix,
        { machine_id: 'string', n: 'integer' },
        { sink: { name: 'hook', kind: 'webhook', url, secretEnv: 'X' } },
      );
      const rx = receiver(port);
      await rx.start();
      rx.answer503 = 3;
      const kafka = createKafkaAdapter({ brokers });
      const topic = `${prefix}.data`;
      const produce = (from: number, n: number): Promise<void> =>
        kafka.produce(
          topic,
          Array.from({ length: n }, (_, k) => ({
            key: `M-${(from + k) % 4}`,
            value: JSON.stringify({ machine_id: `M-${(from + k) % 4}`, n: from + k }),
          })),
        );
      await produce(0, 30);
      await kafka.produce(topic, [{ key: 'M-0', value: JSON.stringify({ machine_id: 'M-0', n: -1, reject: true }) }]);
      const controller = new AbortController();
      let status: SinkStatus | null = null;
      const running = runSink({
        brokers,
        pipeline,
        sink: 'hook',
        writer: createWebhookSink({ url, secret, backoffMs: [50, 500] }),
        signal: controller.signal,
        statusIntervalMs: 200,
        sessionTimeoutMs: 6000,
        onStatus: (s) => (status = s),
      });
      try {
        await until('the first records delivered', async () =>
          rx.deliveries.size >= 30 && (status?.deadLettered ?? 0) >= 1 ? true : undefined,
        );
        await rx.stop();
        await produce(30, 20);
        await new Promise((r) => setTimeout(r, 1500));
        expect(rx.deliveries.size).toBe(30);
        await rx.start();
        await until('the waiting records delivered', async () => (rx.deliveries.size >= 50 ? true : undefined), 60_000);
      } finally {
        controller.abort();
        await running;
        await rx.stop();
        await kafka.close();
      }
      expect(rx.badSignatures).toBe(0);
      const ns = [...rx.deliveries.values()].map((b) => (JSON.parse(b) as { n: number }).n).sort((a, b) => a - b);
      expect(ns).toEqual(Array.from({ length: 50 }, (_, i) => i));
      const dead = await readTopic(pipeline.deadLetterTopic);
      expect(dead).toHaveLength(1);
      expect(dead[0]?.headers?.[deadLetterHeaders.reason]).toBe(`webhook ${url} answered 422: cannot take this one`);
    },
  );
});
