import type { KafkaPort, StreamRecord } from '../kafka/adapter';
import { durationMs, type SensorSource } from '../pipeline/spec';
import { createRng, generateReading } from '../../examples/predictive-maintenance/data/sensors';
import { pause } from './source-records';

/**
 * The example's synthetic sensor generator as a source: deterministic readings (the same seed
 * gives the same sequence) stamped with event times `start + i × interval`, produced at
 * `rate` per second, keyed by machine. The checkpoint is the count sent: a resumed run
 * regenerates the sequence and goes on from there, so it neither repeats nor skips a reading.
 */
export interface SensorCheckpoint {
  sent: number;
  /** Event time of reading 0 (fixed on the first run when the spec gives no start). */
  startMs: number;
}

export interface SensorRunOptions {
  kafka: KafkaPort;
  source: SensorSource;
  signal: AbortSignal;
  resume?: SensorCheckpoint;
  onCheckpoint?: (c: SensorCheckpoint) => void;
}

export async function runSensorSource(o: SensorRunOptions): Promise<SensorCheckpoint> {
  const s = o.source;
  const rate = s.rate ?? 50;
  const count = s.count ?? Number.MAX_SAFE_INTEGER;
  const intervalMs = s.interval ? durationMs(s.interval) : 1000 / rate;
  const state: SensorCheckpoint = o.resume ?? { sent: 0, startMs: s.start ? Date.parse(s.start) : Date.now() };
  const rng = createRng(s.seed ?? 7);
  for (let i = 0; i < state.sent; i++) generateReading(rng, s.machines);
  const batch = Math.max(1, Math.min(1000, Math.round(rate / 10)));
  const started = Date.now();
  let sentHere = 0;
  while (state.sent < count && !o.signal.aborted) {
    const n = Math.min(batch, count - state.sent);
    const records: StreamRecord[] = [];
    for (let k = 0; k < n; k++) {
      const reading = generateReading(rng, s.machines);
      const ts = new Date(state.startMs + (state.sent + k) * intervalMs).toISOString();
      records.push({ key: reading.machine_id, value: JSON.stringify({ ...reading, ts }) });
    }
    await o.kafka.produce(s.topic, records);
    state.sent += n;
    sentHere += n;
    o.onCheckpoint?.({ ...state });
    // Paced against the start, so slow produces do not add up into a lower rate.
    await pause(started + (sentHere * 1000) / rate - Date.now(), o.signal);
  }
  return state;
}
