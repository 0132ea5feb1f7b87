import { createRng } from '../../../examples/predictive-maintenance/data/sensors';
import type { LabelMessage, MalformedMessage, ModelOutcome, ScoredMessage } from '../../../core/shadow/metrics';
import type { ShadowTask } from '../../../core/shadow/state';

/** One event of a simulated shadow test, in the order the activity would see them. */
export type StreamEvent = { scored: ScoredMessage } | { malformed: MalformedMessage } | { label: LabelMessage };

export interface LabelledMessage {
  message: ScoredMessage;
  label: number;
}

/**
 * Deterministic (seeded) messages over three partitions, each with a unique key and its true
 * label; both models are right most of the time and fail now and then.
 */
export function labelledMessages(task: ShadowTask, count: number, seed: number): LabelledMessage[] {
  const rng = createRng(seed);
  const next = [0, 0, 0];
  const out: LabelledMessage[] = [];
  for (let i = 0; i < count; i++) {
    const partition = Math.floor(rng() * 3);
    const offset = String(next[partition] ?? 0);
    next[partition] = (next[partition] ?? 0) + 1;
    const label = task === 'classification' ? (rng() < 0.3 ? 1 : 0) : 50 + 20 * rng();
    const outcome = (accuracy: number): ModelOutcome => {
      if (rng() < 0.03) return { failure: rng() < 0.5 ? 'timeout' : 'http_500' };
      const latencyMs = 1 + 40 * rng() * rng();
      if (task === 'classification') return { prediction: rng() < accuracy ? label : 1 - label, latencyMs };
      return { prediction: label + (1 - accuracy) * 20 * (rng() - 0.5), latencyMs };
    };
    const message: ScoredMessage = {
      key: `m-${i}`,
      partition,
      offset,
      timestampMs: 1_000_000 + i * 100,
      candidate: outcome(0.9),
      champion: outcome(0.85),
    };
    out.push({ message, label });
  }
  return out;
}

/**
 * The same messages as a stream: labels arrive up to 20 messages later (or, for every fifth
 * message, up to 5 messages before it), with a few dead-lettered messages in between.
 */
export function shadowStream(task: ShadowTask, count: number, seed: number): StreamEvent[] {
  const rng = createRng(seed + 1);
  const messages = labelledMessages(task, count, seed);
  const slots: { at: number; event: StreamEvent }[] = [];
  messages.forEach(({ message, label }, i) => {
    slots.push({ at: i, event: { scored: message } });
    const at = i % 5 === 0 ? i - 0.5 - Math.floor(rng() * 5) : i + 0.5 + Math.floor(rng() * 20);
    slots.push({
      at,
      event: {
        label: { key: message.key ?? '', label, timestampMs: message.timestampMs + 50, partition: 0, offset: '0' },
      },
    });
    if (rng() < 0.02)
      slots.push({
        at: i + 0.1,
        event: {
          malformed: {
            partition: message.partition,
            offset: '0',
            reason: rng() < 0.5 ? 'not_json' : 'missing_feature',
          },
        },
      });
  });
  slots.sort((a, b) => a.at - b.at);
  // Positions follow arrival order, as in the topics: per partition for messages, one label partition.
  const next = new Map<number, number>();
  const position = (partition: number): string => {
    const at = next.get(partition) ?? 0;
    next.set(partition, at + 1);
    return String(at);
  };
  let labelOffset = 0;
  return slots.map(({ event }) => {
    if ('label' in event) return { label: { ...event.label, offset: String(labelOffset++) } };
    if ('scored' in event) return { scored: { ...event.scored, offset: position(event.scored.partition) } };
    return { malformed: { ...event.malformed, offset: position(event.malformed.partition) } };
  });
}
