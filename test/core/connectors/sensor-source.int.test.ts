import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../../../core/kafka/adapter';
import { runSensorSource } from '../../../core/connectors/sensor-source';
import type { SensorSource } from '../../../core/pipeline/spec';
import { sensorFields } from '../../../core/pipeline/transform-fields';
import { recordProblem } from '../../../core/pipeline/fields';
import { testNames } from '../../helpers/stack';
import { brokers, deleteTopics, readTopic } from '../pipeline/streams';
import { connectorPipeline } from './pipelines';

const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deleteTopics(p).catch(() => undefined);
});

describe('sensor generator source', () => {
  it(
    'produces the same readings for a seed, at its rate, and a resumed run goes on without ' + 'repeating or skipping',
    async () => {
      const { prefix } = testNames('sensor-source');
      prefixes.push(prefix);
      const pipeline = await connectorPipeline(prefix, sensorFields, {
        source: {
          name: 'sensors',
          kind: 'sensors',
          key: 'machine_id',
          rate: 200,
          count: 100,
          seed: 3,
          start: '2026-01-01T00:00:00Z',
          interval: '100ms',
        },
      });
      const source = pipeline.spec.sources?.[0] as SensorSource;
      const kafka = createKafkaAdapter({ brokers });
      const controller = new AbortController();
      const started = Date.now();
      const first = await runSensorSource({
        kafka,
        source,
        signal: controller.signal,
        onCheckpoint: (c) => c.sent >= 40 && controller.abort(),
      });
      expect(first.sent).toBe(40);
      const rest = await runSensorSource({ kafka, source, signal: new AbortController().signal, resume: first });
      const seconds = (Date.now() - started) / 1000;
      await kafka.close();
      expect(rest.sent).toBe(100);
      // 100 readings at 200 per second.
      expect(seconds).toBeGreaterThan(0.4);
      const out = (await readTopic(`${prefix}.data`)).map(
        (r) => ({ key: r.key, ...(JSON.parse(r.value) as Record<string, unknown>) }) as Record<string, unknown>,
      );
      expect(out).toHaveLength(100);
      const byTime = out.sort((a, b) => String(a.ts).localeCompare(String(b.ts)));
      expect(byTime.map((r) => r.ts)).toEqual(
        Array.from({ length: 100 }, (_, i) => new Date(Date.UTC(2026, 0, 1) + i * 100).toISOString()),
      );
      for (const r of out) {
        expect(recordProblem(r, sensorFields)).toBeNull();
        expect(r.key).toBe(r.machine_id);
      }
      // The same seed gives the same readings.
      const again = await import('../../../examples/predictive-maintenance/data/sensors');
      const rng = again.createRng(3);
      const expected = Array.from({ length: 100 }, () => again.generateReading(rng));
      expect(byTime.map(({ key: _k, ts: _t, ...reading }) => reading)).toEqual(expected);
    },
  );
});
