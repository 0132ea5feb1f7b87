/**
 * Produces live sensor readings to a Kafka topic, as a plant would:
 * `tsx simulate-live.ts [--topic sensors.live] [--rate 50] [--count N] [--seed S]`.
 * Readings carry no label (failures are only known later); keys are machine IDs so one machine's
 * readings stay in order on one partition.
 */
import { parseArgs } from 'node:util';
import { createKafkaAdapter } from '../../../core/kafka/adapter';
import { loadConfig } from '../../../core/config';
import { createRng, generateReading } from './sensors';

export interface SimulateOptions {
  brokers: string[];
  topic: string;
  ratePerSecond: number;
  count: number;
  seed: number;
  signal?: AbortSignal;
}

export async function simulateLive(opts: SimulateOptions): Promise<number> {
  const kafka = createKafkaAdapter({ brokers: opts.brokers, clientId: 'pm-simulator' });
  const rng = createRng(opts.seed);
  const batch = Math.max(1, Math.round(opts.ratePerSecond / 10));
  let sent = 0;
  try {
    await kafka.ensureTopic(opts.topic, 3);
    while (sent < opts.count && !opts.signal?.aborted) {
      const n = Math.min(batch, opts.count - sent);
      const records = Array.from({ length: n }, () => {
        const reading = generateReading(rng);
        return { key: reading.machine_id, value: JSON.stringify({ ...reading, ts: new Date().toISOString() }) };
      });
      await kafka.produce(opts.topic, records);
      sent += n;
      await new Promise((r) => setTimeout(r, (1000 * n) / opts.ratePerSecond));
    }
  } finally {
    await kafka.close();
  }
  return sent;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      topic: { type: 'string', default: 'sensors.live' },
      rate: { type: 'string', default: '50' },
      count: { type: 'string', default: String(Number.MAX_SAFE_INTEGER) },
      seed: { type: 'string', default: '7' },
    },
  });
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
  const sent = await simulateLive({
    brokers: loadConfig().kafkaBrokers,
    topic: values.topic,
    ratePerSecond: Number(values.rate),
    count: Number(values.count),
    seed: Number(values.seed),
    signal: controller.signal,
  });
  console.log(`produced ${sent} readings to ${values.topic}`);
}
