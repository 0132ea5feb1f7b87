import { parseJsonObject } from '../data/bounded-json';
import type { ConsumedRecord, KafkaPort, StreamRecord } from '../kafka/adapter';
import { fitRecord } from '../kafka/record-size';
import type { FeatureSpec, KServeClient } from '../serving/kserve-client';
import { inferEachRow } from '../serving/row-isolation';
import { deadLetterRecord, sourceOf } from './dead-letter';
import { alreadyApplied, applyLabel, applyMalformed, applyScored, expireByWatermark, labelMessage, report, shadowCheckpoint, type MalformedMessage, type ModelOutcome, type ScoredMessage, type ShadowCheckpoint, type ShadowReport, type ShadowState } from './metrics';

/** A model being shadow-tested or compared with, behind its inference server. */
export interface ServedModel {
  client: KServeClient;
  features: FeatureSpec[];
  version: number;
}

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
  /** Called about every two seconds with live figures; answering `true` stops the test. */
  onProgress?: (report: ShadowReport) => Promise<boolean>;
  signal: AbortSignal;
}

const maxRowsPerRequest = 10_000;

/**
 * Runs one shadow test until its message count, its deadline, a stop request or cancellation.
 * Every input record is scored by the candidate and the champion side by side; candidate outputs
 * go to the shadow topic keyed like the input, bad records to the dead-letter topic with the
 * reason in a header (see dead-letter.ts); labels join predictions by key. A row that fails
 * inference fails alone: the rest of its batch is scored (see row-isolation.ts). The metrics state moves only between
 * batches, so every checkpoint is exact and a resumed run neither loses nor recounts a message.
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
  const finished = (): boolean => report(state, elapsed()).messages >= o.maxMessages || (o.deadlineMs !== null && Date.now() >= o.deadlineMs);

  let lastProgress = 0;
  let lastSent = '';
  let progressing = false;
  // Each report lands in the lifecycle's history: an idle test sends one every 10 s, not every 2
  // (the answer also carries a stop request, so an idle test still stops within 10 s).
  const progress = async (force = false): Promise<void> => {
    if (!o.onProgress || progressing) return;
    const r = report(state, elapsed());
    const changed = `${r.messages}/${r.labels.joined}/${r.labels.waiting}`;
    if (!force && changed === lastSent && Date.now() - lastProgress < 10_000) return;
    progressing = true;
    lastProgress = Date.now();
    lastSent = changed;
    try {
      if (await o.onProgress(r)) stop.abort();
    } finally {
      progressing = false;
    }
  };
  const timer = setInterval(() => {
    o.onCheckpoint(shadowCheckpoint(state), elapsed());
    if (finished()) stop.abort();
    if (Date.now() - lastProgress >= 2_000) void progress();
  }, 1_000);

  const onInput = async (records: ConsumedRecord[]): Promise<void> => {
    const room = o.maxMessages - report(state, elapsed()).messages;
    const todo = records.filter((r) => !alreadyApplied(state, r.partition, r.offset)).slice(0, Math.max(0, room));
    if (todo.length === 0) return;
    const valid: Array<{ record: ConsumedRecord; row: Record<string, unknown> }> = [];
    const malformed: Array<{ record: ConsumedRecord; reason: string }> = [];
    for (const record of todo) {
      const parsed = parseJsonObject(record.value);
      const reason = parsed.ok ? schemaProblem(parsed.value, o.candidate.features) : parsed.reason;
      if (parsed.ok && reason === null) valid.push({ record, row: parsed.value });
      else malformed.push({ record, reason: reason ?? 'not a JSON object' });
    }
    const rows = valid.map((v) => v.row);
    const [cand, champ] = await Promise.all([score(o.candidate, rows), o.champion ? score(o.champion, rows) : Promise.resolve(null)]);
    const scored: ScoredMessage[] = valid.map((v, i) => ({
      key: v.record.key,
      partition: v.record.partition,
      offset: v.record.offset,
      timestampMs: Number(v.record.timestamp),
      candidate: cand[i] ?? { failure: 'missing_output' },
      ...(champ ? { champion: champ[i] ?? { failure: 'missing_output' } } : {}),
    }));
    const outputs: StreamRecord[] = valid.flatMap((v, i) => {
      const outcome = cand[i];
      if (!outcome || !('prediction' in outcome)) return [];
      const headers = {
        'mloop-model': o.model,
        'mloop-version': String(o.candidate.version),
        'mloop-source': sourceOf(v.record),
      };
      const value = JSON.stringify({ prediction: outcome.prediction });
      return [fitRecord({ key: v.record.key, value, headers }, shadowLimit)];
    });
    const dead: StreamRecord[] = malformed.map((m) => deadLetterRecord(m.record, m.reason, deadLetterLimit));
    await Promise.all([o.kafka.produce(o.shadowTopic, outputs), o.kafka.produce(o.deadLetterTopic, dead)]);
    // The state claims offsets as it applies them, so scored and malformed records go in in
    // offset order: one call per run of the same kind.
    type Item = { kind: 'scored'; m: ScoredMessage } | { kind: 'malformed'; m: MalformedMessage };
    const items: Item[] = [
      ...scored.map((m): Item => ({ kind: 'scored', m })),
      ...malformed.map((x): Item => ({ kind: 'malformed', m: { partition: x.record.partition, offset: x.record.offset, reason: x.reason, timestampMs: Number(x.record.timestamp) } })),
    ].sort((x, y) => (BigInt(x.m.offset) < BigInt(y.m.offset) ? -1 : 1));
    let next = state;
    for (let i = 0; i < items.length; ) {
      let j = i;
      while (j < items.length && items[j]?.kind === items[i]?.kind) j++;
      const chunk = items.slice(i, j);
      next = chunk[0]?.kind === 'scored' ? applyScored(next, chunk.map((c) => c.m as ScoredMessage)) : applyMalformed(next, chunk.map((c) => c.m as MalformedMessage));
      i = j;
    }
    state = expireByWatermark(next, windowMs);
  };

  // Every label record is applied: a record without a usable label is counted as invalid.
  const onLabels = (records: ConsumedRecord[]): void => {
    state = expireByWatermark(applyLabel(state, records.map((r) => labelMessage(r, o.labelField)), windowMs), windowMs);
  };

  const starts = [{ topic: o.inputTopic, offsets: o.checkpoint.offsets }];
  if (o.labelsTopic) starts.push({ topic: o.labelsTopic, offsets: o.checkpoint.labelOffsets });
  try {
    if (!finished()) {
      await o.kafka.stream(
        starts,
        async (records) => {
          if (records[0]?.topic === o.labelsTopic) onLabels(records);
          else await onInput(records);
          if (finished()) stop.abort();
        },
        stop.signal,
      );
    }
  } finally {
    clearInterval(timer);
    o.signal.removeEventListener('abort', onAbort);
  }
  if (o.signal.aborted) throw new Error('shadow test cancelled');
  o.onCheckpoint(shadowCheckpoint(state), elapsed());
  await progress(true);
  return report(state, elapsed());
}

async function score(model: ServedModel, rows: Record<string, unknown>[]): Promise<ModelOutcome[]> {
  const out: ModelOutcome[] = [];
  for (let i = 0; i < rows.length; i += maxRowsPerRequest) {
    // Each message is charged the time until its prediction arrived; failures count per row.
    for (const r of await inferEachRow(model.client, rows.slice(i, i + maxRowsPerRequest), model.features)) {
      out.push(r.ok ? { prediction: r.prediction, latencyMs: r.latencyMs } : { failure: r.failure });
    }
  }
  return out;
}


/** The record's fields against the served model's inputs: the first problem, or null. */
function schemaProblem(row: Record<string, unknown>, features: FeatureSpec[]): string | null {
  for (const f of features) {
    const v = row[f.name];
    if (v === undefined) return `missing field "${f.name}"`;
    if (v === null) continue;
    if (f.type === 'string' ? typeof v !== 'string' : typeof v !== 'number' || !Number.isFinite(v)) return `field "${f.name}" is not a ${f.type}`;
    if (f.type === 'integer' && !Number.isInteger(v)) return `field "${f.name}" is not an integer`;
  }
  return null;
}
