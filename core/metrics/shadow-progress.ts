import type { KafkaPort } from '../kafka/adapter';
import { recordShadowMessages, setShadowLag } from './series';

export interface ShadowMetricsOptions {
  model: string;
  inputTopic: string;
  /** The count of the checkpoint the attempt starts from (0 for a new test). */
  startMessages: number;
  /** The test across its attempts (workflow and activity ID): what one attempt counted, a retry does not. */
  key: string;
  /** For the topic's end offsets; asked at most every `lagEveryMs`. */
  kafka: Pick<KafkaPort, 'partitionOffsets'>;
  lagEveryMs?: number;
  now?: () => number;
}

export interface ShadowProgressMetrics {
  /** Every checkpoint of the running test: how many messages it has applied, and its next offsets. */
  checkpoint(messages: number, offsets: Record<string, string>): void;
  /** The test ended: its lag series goes away. */
  end(): void;
}

/**
 * Shadow throughput and lag from a running test's checkpoints. Throughput counts each message once per
 * process: beyond the checkpoint an attempt starts from and beyond what earlier attempts of the
 * same test counted here. (A worker that crashed took its counts with it; Prometheus' `rate` and
 * `increase` see the counter start again from zero.)
 * Lag is the records between the test's next offsets and the input topic's end, over partitions.
 */
export function shadowProgressMetrics(o: ShadowMetricsOptions): ShadowProgressMetrics {
  const now = o.now ?? Date.now;
  const lagEveryMs = o.lagEveryMs ?? 5_000;
  let lastLagAt = -Infinity;
  let asking = false;
  let ended = false;

  const updateLag = async (offsets: Record<string, string>): Promise<void> => {
    asking = true;
    try {
      const ends = await o.kafka.partitionOffsets(o.inputTopic);
      if (!ended) setShadowLag(o.model, lagOf(ends, offsets));
    } catch {
      // A missed lag reading leaves the last one; the next checkpoint asks again.
    } finally {
      asking = false;
    }
  };

  return {
    checkpoint(messages, offsets) {
      const counted = Math.max(countedByTest.get(o.key) ?? 0, o.startMessages);
      if (messages > counted) {
        recordShadowMessages(o.model, messages - counted);
        remember(o.key, messages);
      }
      if (!asking && now() - lastLagAt >= lagEveryMs) {
        lastLagAt = now();
        void updateLag(offsets);
      }
    },
    end() {
      ended = true;
      setShadowLag(o.model, null);
    },
  };
}

/**
 * Per test, the highest count this process has recorded: a retry resumes from its last recorded
 * heartbeat, which may lie behind what the attempt before it (in this process, perhaps still
 * running after its heartbeat timed out) already counted. Bounded: the oldest tests go first.
 */
const countedByTest = new Map<string, number>();
const maxRemembered = 1000;

function remember(key: string, messages: number): void {
  countedByTest.delete(key);
  countedByTest.set(key, messages);
  if (countedByTest.size > maxRemembered) countedByTest.delete(countedByTest.keys().next().value as string);
}

/** Records from `next` (per partition) to each partition's end; a partition not yet read counts from its start. */
export function lagOf(
  ends: ReadonlyArray<{ partition: number; low: string; high: string }>,
  next: Record<string, string>,
): number {
  let lag = 0n;
  for (const p of ends) {
    const from = next[String(p.partition)] ?? p.low;
    const behind = BigInt(p.high) - BigInt(from);
    if (behind > 0n) lag += behind;
  }
  return Number(lag);
}
