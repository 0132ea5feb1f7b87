import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { KafkaPort, StreamRecord } from '../kafka/adapter';
import { deadLetterInput } from '../pipeline/dead-letter';
import type { FileSource } from '../pipeline/spec';
import { eventTime } from '../pipeline/window';
import { csvRow, opensQuote, splitCsvLine } from './csv';
import { isProblem, pause, toStreamRecord } from './source-records';

/**
 * Replays a CSV or JSONL file into the source's topic, paced by its time field at `speed`
 * times real time (0: as fast as possible). Lines that do not parse or fit the fields go to
 * the dead-letter topic with the line number. A file that is not there yet is waited for.
 * The checkpoint counts lines, so a resumed replay goes on after the last batch it produced.
 */
export interface FileReplayCheckpoint {
  /** Physical lines read and dealt with (header included). */
  line: number;
  produced: number;
  deadLettered: number;
}

export interface FileReplayOptions {
  kafka: KafkaPort;
  source: FileSource;
  deadLetterTopic: string;
  signal: AbortSignal;
  resume?: FileReplayCheckpoint;
  onCheckpoint?: (c: FileReplayCheckpoint) => void;
  batchSize?: number;
  /** How often to look again for a missing file (1 s). */
  waitForFileMs?: number;
}

export async function replayFile(o: FileReplayOptions): Promise<FileReplayCheckpoint> {
  const s = o.source;
  const format = s.format ?? (s.path.endsWith('.csv') ? 'csv' : 'jsonl');
  const speed = s.time === undefined ? 0 : (s.speed ?? 1);
  const batchSize = o.batchSize ?? 500;
  const state: FileReplayCheckpoint = { line: 0, produced: 0, deadLettered: 0, ...o.resume };
  const skipTo = state.line;
  await waitForFile(s.path, o.signal, o.waitForFileMs ?? 1000);
  if (o.signal.aborted) return state;

  let out: StreamRecord[] = [];
  let dead: StreamRecord[] = [];
  let lineNo = 0;
  const flush = async (): Promise<void> => {
    if (out.length > 0) await o.kafka.produce(s.topic, out);
    if (dead.length > 0) await o.kafka.produce(o.deadLetterTopic, dead);
    state.produced += out.length;
    state.deadLettered += dead.length;
    state.line = lineNo;
    out = [];
    dead = [];
    o.onCheckpoint?.({ ...state });
  };
  let header: string[] | null = null;
  let pending = '';
  let pendingStart = 0;
  let clock: { event: number; wall: number } | null = null;

  const lines = createInterface({ input: createReadStream(s.path, { encoding: 'utf8' }), crlfDelay: Infinity });
  try {
    for await (const physical of lines) {
      if (o.signal.aborted) break;
      lineNo++;
      // A quoted CSV field may hold newlines: a record can span several lines.
      if (format === 'csv' && (pending !== '' || opensQuote(physical)) && opensQuote(pending + physical)) {
        if (pending === '') pendingStart = lineNo;
        pending += `${physical}\n`;
        continue;
      }
      const text = pending + physical;
      const first = pending === '' ? lineNo : pendingStart;
      pending = '';
      if (format === 'csv' && header === null) {
        const cells = splitCsvLine(text);
        if (!Array.isArray(cells)) throw new Error(`${s.path}: line 1 is not a CSV header: ${cells.problem}`);
        header = cells.map((c) => c.trim());
        continue;
      }
      if (lineNo <= skipTo || text.trim() === '') continue;
      const where = `${s.path}:${first}`;
      const parsed = format === 'csv' ? parseCsv(text, header as string[], s) : parseJson(text);
      const row = 'row' in parsed ? parsed.row : null;
      const rec =
        row === null ? { problem: (parsed as { problem: string }).problem } : toStreamRecord(row, s.fields, s.key);
      if (isProblem(rec)) {
        dead.push(deadLetterInput(text, null, s.name, `line ${first}: ${rec.problem}`, where));
      } else {
        if (speed > 0 && s.time !== undefined) {
          const t = eventTime((row as Record<string, unknown>)[s.time], s.time);
          if (typeof t === 'string') {
            dead.push(deadLetterInput(text, null, s.name, `line ${first}: ${t}`, where));
            continue;
          }
          clock ??= { event: t, wall: Date.now() };
          const due = clock.wall + (t - clock.event) / speed;
          if (due > Date.now()) {
            await flush();
            await pause(due - Date.now(), o.signal);
          }
        }
        out.push(rec);
      }
      if (out.length + dead.length >= batchSize) await flush();
    }
    if (pending !== '')
      dead.push(
        deadLetterInput(
          pending,
          null,
          s.name,
          `line ${pendingStart}: a quoted field is not closed`,
          `${s.path}:${pendingStart}`,
        ),
      );
    if (!o.signal.aborted) await flush();
  } finally {
    lines.close();
  }
  return state;
}

type Parsed = { row: Record<string, unknown> } | { problem: string };

function parseCsv(text: string, header: string[], s: FileSource): Parsed {
  const cells = splitCsvLine(text);
  if (!Array.isArray(cells)) return cells;
  return csvRow(header, cells, s.fields);
}

function parseJson(text: string): Parsed {
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? { row: v as Record<string, unknown> }
      : { problem: 'not a JSON object' };
  } catch {
    return { problem: 'not valid JSON' };
  }
}

async function waitForFile(file: string, signal: AbortSignal, everyMs: number): Promise<void> {
  while (!signal.aborted) {
    try {
      await fs.access(file);
      return;
    } catch {
      await pause(everyMs, signal);
    }
  }
}
