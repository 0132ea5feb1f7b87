import mqtt, { type MqttClient } from 'mqtt';
import type { KafkaPort } from '../kafka/adapter';
import { deadLetterInput } from '../pipeline/dead-letter';
import type { MqttSource } from '../pipeline/spec';
import { isProblem, toStreamRecord } from './source-records';

/**
 * MQTT topics into a Kafka topic. The client keeps a persistent session (fixed client ID,
 * `clean: false`) and acknowledges a QoS 1/2 message only after Kafka has it, so when the
 * broker goes away, or Kafka does, messages wait in the broker and arrive after the
 * reconnection. Payloads that are not JSON objects fitting the fields go to the dead-letter
 * topic with the reason.
 */
export interface MqttSourceStatus {
  received: number;
  produced: number;
  deadLettered: number;
  connected: boolean;
  reconnects: number;
  lastError: string | null;
}

export interface MqttSourceOptions {
  kafka: KafkaPort;
  pipeline: string;
  source: MqttSource;
  deadLetterTopic: string;
  signal: AbortSignal;
  onStatus?: (s: MqttSourceStatus) => void;
  /** How long a failed Kafka produce waits before it is tried again (1 s). */
  retryMs?: number;
}

export async function runMqttSource(o: MqttSourceOptions): Promise<MqttSourceStatus> {
  const s = o.source;
  const status: MqttSourceStatus = {
    received: 0,
    produced: 0,
    deadLettered: 0,
    connected: false,
    reconnects: 0,
    lastError: null,
  };
  const report = (): void => o.onStatus?.({ ...status });
  const qos = s.qos ?? 1;

  const forward = async (topic: string, payload: Buffer): Promise<void> => {
    status.received++;
    const text = payload.toString('utf8');
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch {
      row = undefined;
    }
    const rec =
      row !== null && typeof row === 'object' && !Array.isArray(row)
        ? toStreamRecord(row as Record<string, unknown>, s.fields, s.key)
        : { problem: 'not a JSON object' };
    for (;;) {
      try {
        if (isProblem(rec)) {
          await o.kafka.produce(o.deadLetterTopic, [deadLetterInput(text, null, s.name, rec.problem, `mqtt:${topic}`)]);
          status.deadLettered++;
        } else {
          await o.kafka.produce(s.topic, [rec]);
          status.produced++;
        }
        return;
      } catch (err) {
        // Unacknowledged, the message stays with the broker; keep trying while we run.
        status.lastError = err instanceof Error ? err.message : String(err);
        report();
        if (o.signal.aborted) throw err;
        await new Promise((r) => setTimeout(r, o.retryMs ?? 1000));
      }
    }
  };

  const client: MqttClient = mqtt.connect(s.url, {
    clientId: `mloop-${o.pipeline}-${s.name}`.slice(0, 64),
    clean: false,
    reconnectPeriod: 500,
    connectTimeout: 5000,
    protocolVersion: 4,
  });
  // mqtt.js acknowledges a QoS 1/2 message only after this calls back, and hands over the
  // next message only then: the acknowledgement waits for Kafka.
  client.handleMessage = (packet, callback) => {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    forward(packet.topic, payload).then(
      () => {
        report();
        callback();
      },
      // Stopping: no acknowledgement, so the broker delivers it again to the next run.
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  };
  client.on('connect', (ack) => {
    status.connected = true;
    // A resumed session keeps its subscriptions; subscribing again is harmless.
    if (!ack.sessionPresent) client.subscribe(s.topics, { qos }, (err) => err && (status.lastError = err.message));
    report();
  });
  client.on('reconnect', () => {
    status.reconnects++;
    report();
  });
  client.on('close', () => {
    status.connected = false;
    report();
  });
  client.on('error', (err) => {
    status.lastError = err.message;
    report();
  });
  await new Promise<void>((resolve) => {
    if (o.signal.aborted) resolve();
    else o.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await client.endAsync(true).catch(() => undefined);
  return status;
}
