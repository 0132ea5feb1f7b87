import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../../../core/kafka/adapter';
import { runMqttSource, type MqttSourceStatus } from '../../../core/connectors/mqtt-source';
import { deadLetterHeaders } from '../../../core/pipeline/dead-letter';
import type { MqttSource } from '../../../core/pipeline/spec';
import { testNames } from '../../helpers/stack';
import { until } from '../../helpers/until';
import { brokers, deleteTopics, readTopic } from '../pipeline/streams';
import { connectorPipeline } from './pipelines';
import { service, type Service } from './services';

let broker: Service;
const prefixes: string[] = [];
beforeAll(async () => {
  broker = await service('mqtt');
});
afterAll(async () => {
  await broker?.remove();
  for (const p of prefixes) await deleteTopics(p).catch(() => undefined);
});

async function publish(url: string, messages: Array<{ topic: string; payload: string }>): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId: `test-publisher-${Math.random().toString(16).slice(2)}` });
  try {
    for (const m of messages) await client.publishAsync(m.topic, m.payload, { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

describe('MQTT source', () => {
  it(
    'forwards QoS 1 messages to Kafka, dead-letters bad payloads, and loses none while it is ' +
      'away or the broker restarts',
    async () => {
      const { prefix } = testNames('mqtt-source');
      prefixes.push(prefix);
      const fields = { machine_id: 'string', t: 'number' } as const;
      const pipeline = await connectorPipeline(prefix, fields, {
        source: {
          name: 'plant',
          kind: 'mqtt',
          url: broker.url,
          topics: [`${prefix}/+/readings`],
          qos: 1,
          key: 'machine_id',
          fields,
        },
      });
      const source = pipeline.spec.sources?.[0] as MqttSource;
      const kafka = createKafkaAdapter({ brokers });
      const reading = (i: number): { topic: string; payload: string } => ({
        topic: `${prefix}/M-${i % 3}/readings`,
        payload: JSON.stringify({ machine_id: `M-${i % 3}`, t: i }),
      });
      const start = (): { status: () => MqttSourceStatus | null; stop: () => Promise<void> } => {
        const controller = new AbortController();
        let status: MqttSourceStatus | null = null;
        const running = runMqttSource({
          kafka,
          pipeline: prefix,
          source,
          deadLetterTopic: pipeline.deadLetterTopic,
          signal: controller.signal,
          onStatus: (s) => (status = s),
        });
        return {
          status: () => status,
          stop: async () => {
            controller.abort();
            await running;
          },
        };
      };
      try {
        let s = start();
        await until('connected and subscribed', async () => (s.status()?.connected ? true : undefined));
        await new Promise((r) => setTimeout(r, 300));
        await publish(broker.url, [
          ...Array.from({ length: 20 }, (_, i) => reading(i)),
          { topic: `${prefix}/M-0/readings`, payload: 'garbage' },
        ]);
        await until('the first messages forwarded', async () =>
          (s.status()?.produced ?? 0) >= 20 && (s.status()?.deadLettered ?? 0) >= 1 ? true : undefined,
        );

        // Away: the broker keeps the messages for the persistent session, across its own restart too.
        await s.stop();
        await publish(
          broker.url,
          Array.from({ length: 20 }, (_, i) => reading(20 + i)),
        );
        await broker.stop();
        await broker.start();
        s = start();
        await until(
          'the queued messages forwarded',
          async () => ((s.status()?.produced ?? 0) >= 20 ? true : undefined),
          60_000,
        );

        // The broker goes away under a running source, which reconnects.
        await broker.stop();
        await until('the source sees the broker gone', async () =>
          s.status()?.connected === false ? true : undefined,
        );
        await broker.start();
        await until('reconnected', async () => (s.status()?.connected ? true : undefined), 60_000);
        await publish(
          broker.url,
          Array.from({ length: 10 }, (_, i) => reading(40 + i)),
        );
        await until(
          'the last messages forwarded',
          async () => ((s.status()?.produced ?? 0) >= 30 ? true : undefined),
          60_000,
        );
        await s.stop();
      } finally {
        await kafka.close();
      }
      const out = (await readTopic(`${prefix}.data`))
        .map((r) => (JSON.parse(r.value) as { t: number }).t)
        .sort((a, b) => a - b);
      expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i));
      const dead = await readTopic(pipeline.deadLetterTopic);
      expect(dead.map((d) => [d.value, d.headers?.[deadLetterHeaders.reason]])).toEqual([
        ['garbage', 'not a JSON object'],
      ]);
    },
  );
});
