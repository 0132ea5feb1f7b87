import type { ConsumedRecord, KafkaPort } from '../kafka/adapter';
import { deadLetterRecord } from './dead-letter';
import { applyInOffsetOrder, splitInput } from './input-batch';
import {
  alreadyApplied,
  applyLabel,
  expireByWatermark,
  labelMessage,
  report,
  shadowCheckpoint,
  type ShadowCheckpoint,
  type ShadowReport,
  type ShadowState,
} from './metrics';
import { orderedBatches } from './ordered-batches';
import { progressReporter } from './progress';
import { scoreBatch, shadowOutputs, type ServedModel } from './scoring';

export type { ServedModel } from './scoring';

/**
 * Input batches scored at once: while one waits for the models, the next is read, parsed and
 * encoded, and the one before it produced. One fetch brings a batch per partition.
 */
const batchesInFlight = 3;

export interface ShadowRunOptions {
  kafka: KafkaPort;
  model: string;
  candidate: ServedModel;
  champion: ServedModel | null;
  inputTopic: string;
  labelsTopic?: string;
  labelField: string;
  shadowTopic: string;
  deadLetterTopic: string;
  /** Where to start (or resume): offsets and the metrics up to them. */
  checkpoint: ShadowCheckpoint;
  maxMessages: number;
  deadlineMs: number | null;
  /** Time already spent before this run (a resumed test keeps its clock). */
  elapsedBeforeMs: number;
  /** Called at least every second with a consistent checkpoint (offsets match metrics). */
  onCheckpoint: (checkpoint: ShadowCheckpoint, elapsedMs: number) => void;
  /**
   * Called with live figures, every 2 s at first and less often as the test ages (progress.ts);
   * answering `true` stops the test.
   */
  onProgress?: (report: ShadowReport) => Promise<boolean>;
  /** Asked every 2 s whether someone asked to stop; `true` stops the test. */
  stopRequested?: () => Promise<boolean>;
  signal: AbortSignal;
}

/**
 * Runs one shadow test until its message count, its deadline, a stop request or cancellation.
 * This file is the consuming loop; a batch of input records is checked (input-batch.ts), scored
 * by the candidate and the champion side by side (scoring.ts), candidate outputs go to the shadow
 * topic keyed like the input, bad records to the dead-letter topic with the reason in a header
 * (dead-letter.ts); labels join predictions by key (label-join.ts). Up to `batchesInFlight`
 * batches are scored at once, but they are committed (produced, then applied to the metrics
 * state) one at a time in the order they were read, and none after a failed one
 * (ordered-batches.ts). So the state moves only between whole batches, every checkpoint
 * (checkpoint.ts) is exact, and a resumed run neither loses nor recounts a message.
 */
export async function runShadow(o: ShadowRunOptions): Promise<ShadowReport> {
  const started = Date.now();
  let state: ShadowState = o.checkpoint.state;
  const elapsed = (): number => o.elapsedBeforeMs + (Date.now() - started);
  const windowMs = state.labelWindowMs;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  o.signal.addEventListener('abort', onAbort, { once: true });
  // Copies and outputs are fitted to these limits, so no single record can stop the test.
  const [deadLetterLimit, shadowLimit] = await Promise.all([
    o.kafka.maxMessageBytes(o.deadLetterTopic),
    o.kafka.maxMessageBytes(o.shadowTopic),
  ]);
  const finished = (): boolean =>
    state.messages >= o.maxMessages || (o.deadlineMs !== null && Date.now() >= o.deadlineMs);

  const progress = progressReporter(
    () => report(state, elapsed()),
    o.onProgress,
    () => stop.abort(),
    elapsed,
  );
  let asking = false;
  let lastAsked = 0;
  const askStop = async (): Promise<void> => {
    if (!o.stopRequested || asking || Date.now() - lastAsked < 2_000) return;
    asking = true;
    lastAsked = Date.now();
    try {
      if (await o.stopRequested()) stop.abort();
    } catch {
      // Asked again in 2 s.
    } finally {
      asking = false;
    }
  };
  const timer = setInterval(() => {
    o.onCheckpoint(shadowCheckpoint(state), elapsed());
    if (finished()) stop.abort();
    if (progress.due()) void progress.send();
    void askStop();
  }, 1_000);

  // Offsets up to which records are admitted (scored or being scored), so none is scored twice.
  const admitted = new Map<number, bigint>();
  let admittedMessages = 0;
  const batches = orderedBatches(batchesInFlight, () => stop.abort());
  // A stopped test starts no more batches: those in flight finish, the rest stays unread.
  stop.signal.addEventListener('abort', () => batches.close(), { once: true });
  const cancelled = (): Error => new Error('shadow test cancelled');

  const onInput = async (records: ConsumedRecord[]): Promise<void> => {
    const room = o.maxMessages - state.messages - admittedMessages;
    const fresh = records.filter((r) => {
      const next = admitted.get(r.partition);
      return !alreadyApplied(state, r.partition, r.offset) && (next === undefined || BigInt(r.offset) >= next);
    });
    const todo = fresh.slice(0, Math.max(0, room));
    if (todo.length === 0) return;
    const { valid, malformed } = splitInput(todo, o.candidate.features);
    const taken = await batches.admit(
      () => scoreBatch(valid, o.candidate, o.champion, o.signal),
      async ({ scored, candidate }) => {
        // A cancelled request scores nothing real: none of it may reach the topic or the state.
        if (o.signal.aborted) throw cancelled();
        const outputs = shadowOutputs(o.model, o.candidate.version, valid, candidate, shadowLimit);
        const dead = malformed.map((m) => deadLetterRecord(m.record, m.reason, deadLetterLimit));
        await Promise.all([o.kafka.produce(o.shadowTopic, outputs), o.kafka.produce(o.deadLetterTopic, dead)]);
        state = expireByWatermark(applyInOffsetOrder(state, scored, malformed), windowMs);
        admittedMessages -= todo.length;
        if (finished()) stop.abort();
      },
    );
    // Counted before the next batch is read (a quick commit may already have subtracted them).
    if (!taken) return;
    admittedMessages += todo.length;
    for (const r of todo) admitted.set(r.partition, BigInt(r.offset) + 1n);
  };

  // Every label record is applied: a record without a usable label is counted as invalid. Labels
  // wait for the predictions read before them, as if every batch were scored before the next.
  const onLabels = async (records: ConsumedRecord[]): Promise<void> => {
    const labels = records.map((r) => labelMessage(r, o.labelField));
    await batches.admit(
      async () => labels,
      (ready) => {
        state = expireByWatermark(applyLabel(state, ready, windowMs), windowMs);
      },
    );
  };

  const starts = [{ topic: o.inputTopic, offsets: o.checkpoint.offsets }];
  if (o.labelsTopic) starts.push({ topic: o.labelsTopic, offsets: o.checkpoint.labelOffsets });
  try {
    if (!finished()) {
      const streamFailure = await o.kafka
        .stream(
          starts,
          async (records) => {
            if (records[0]?.topic === o.labelsTopic) await onLabels(records);
            else await onInput(records);
            if (finished()) stop.abort();
          },
          stop.signal,
        )
        .then(
          () => null,
          (error: unknown) => ({ error }),
        );
      // Batches already admitted finish (or fail) before the run ends: nothing is produced after it.
      await batches.drain();
      if (streamFailure) throw streamFailure.error;
    }
  } finally {
    clearInterval(timer);
    o.signal.removeEventListener('abort', onAbort);
  }
  if (o.signal.aborted) throw new Error('shadow test cancelled');
  o.onCheckpoint(shadowCheckpoint(state), elapsed());
  await progress.send(true);
  return report(state, elapsed());
}
