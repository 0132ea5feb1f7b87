/**
 * How fast a shadow test scores a topic, against the ceiling of the same Kafka path without
 * models: `npx tsx bench/shadow-throughput.ts [--messages 20000] [--batch 500]`, with the dev
 * broker and Python runtime of the environment (`source /tmp/devenv.sh`). See bench/README.md.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../core/config';
import { createKafkaAdapter, type ConsumedRecord, type KafkaPort, type StreamRecord } from '../core/kafka/adapter';
import { PythonRuntime } from '../core/python/runtime';
import { KServeClient, type FeatureSpec } from '../core/serving/kserve-client';
import { startModelServer, type RunningModelServer } from '../core/serving/model-server';
import { emptyShadowState, type ShadowReport } from '../core/shadow/metrics';
import { sourceOf } from '../core/shadow/dead-letter';
import { runShadow, type ServedModel } from '../core/shadow/runner';
import { writeHistory } from '../examples/predictive-maintenance/data/generate-history';
import { createRng, generateReading } from '../examples/predictive-maintenance/data/sensors';

const MODEL = 'predictive-maintenance';
const exampleModel = path.resolve(import.meta.dirname, '../examples/predictive-maintenance/model');
const PHASE_LIMIT_MS = 5 * 60_000;
// After the limit a phase is cancelled; if it still has not returned by then (a hung
// disconnect), the bench gives up on it rather than hang.
const PHASE_GRACE_MS = 45_000;
const TRAINING_ROWS = 2000;
const READINGS_SEED = 1;
// The broker refuses a produce request whose record batch exceeds its message.max.bytes (about
// 1 MB by default), and one fetched partition batch can be that large: the baseline forwards it
// in sends of at most this many bytes of payload.
const SEND_CHUNK_BYTES = 512 * 1024;
const loopback = new Set(['127.0.0.1', 'localhost', '::1']);
const datatypeToFeature: Record<string, FeatureSpec['type']> = {
  FP64: 'number',
  FP32: 'number',
  INT64: 'integer',
  INT32: 'integer',
  BYTES: 'string',
};

interface Args {
  messages: number;
  batch: number;
}

interface PhaseResult {
  messages: number;
  seconds: number;
  perSecond: number;
  /** When the first records arrived, from the phase's start (a fresh consumer group joins first). */
  firstBatchSeconds: number | null;
  /** Batches kafkajs handed over: the shadow runner sends one inference request per batch and model. */
  batches: number;
  /** Time between the last batch done and the phase's end (stopping the consumer), when counted. */
  tailSeconds?: number;
  /** CPU seconds spent during the phase: this process, and each model server's process. */
  cpu: CpuSeconds;
}

interface CpuSeconds {
  bench: number;
  servers: number[];
}

function parseCli(): Args {
  const { values } = parseArgs({
    options: { messages: { type: 'string', default: '20000' }, batch: { type: 'string', default: '500' } },
  });
  const int = (name: string, raw: string | undefined): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer (got "${raw}")`);
    return n;
  };
  return { messages: int('messages', values.messages), batch: int('batch', values.batch) };
}

const secondsSince = (t0: number): number => (performance.now() - t0) / 1000;

/** User + system CPU seconds of a process so far, from /proc (Linux); NaN where it cannot be read. */
async function processCpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start at state; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * Counts the CPU spent from now on, by this process and by the model servers, so a loaded machine
 * still tells where the work went.
 */
async function cpuMeter(servers: RunningModelServer[]): Promise<() => Promise<CpuSeconds>> {
  const bench0 = process.cpuUsage();
  const servers0 = await Promise.all(servers.map((s) => processCpuSeconds(s.pid)));
  return async () => {
    const d = process.cpuUsage(bench0);
    const now = await Promise.all(servers.map((s) => processCpuSeconds(s.pid)));
    return { bench: (d.user + d.system) / 1e6, servers: now.map((c, i) => c - (servers0[i] ?? Number.NaN)) };
  };
}
const hostOf = (broker: string): string => broker.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');

/**
 * Runs one timed phase under the five-minute limit: its signal aborts at the limit (or on
 * Ctrl-C), and a phase that has not returned shortly after is abandoned with an error.
 */
async function bounded<T>(name: string, outer: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctl = new AbortController();
  let overLimit = false;
  const onOuter = (): void => ctl.abort();
  outer.addEventListener('abort', onOuter, { once: true });
  const limit = setTimeout(() => {
    overLimit = true;
    ctl.abort();
  }, PHASE_LIMIT_MS);
  let hard: NodeJS.Timeout | undefined;
  const abandoned = new Promise<never>((_, reject) => {
    hard = setTimeout(
      () => reject(new Error(`${name}: still running ${PHASE_GRACE_MS / 1000} s after being cancelled`)),
      PHASE_LIMIT_MS + PHASE_GRACE_MS,
    );
  });
  try {
    const result = await Promise.race([fn(ctl.signal), abandoned]);
    if (ctl.signal.aborted)
      throw new Error(
        overLimit ? `${name} took longer than ${PHASE_LIMIT_MS / 60_000} minutes` : `${name} was interrupted`,
      );
    return result;
  } catch (err) {
    if (overLimit) throw new Error(`${name} took longer than ${PHASE_LIMIT_MS / 60_000} minutes`, { cause: err });
    throw err;
  } finally {
    clearTimeout(limit);
    clearTimeout(hard);
    outer.removeEventListener('abort', onOuter);
  }
}

/** The baseline: every record of the topic produced unchanged to another, batch by batch as kafkajs hands them over. */
async function rawConsumeProduce(
  kafka: KafkaPort,
  input: string,
  output: string,
  starts: Record<string, string>,
  n: number,
  signal: AbortSignal,
): Promise<Omit<PhaseResult, 'cpu'>> {
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  let count = 0;
  let firstAt: number | null = null;
  let batches = 0;
  let lastAt = 0;
  const t0 = performance.now();
  try {
    await kafka.stream(
      [{ topic: input, offsets: starts }],
      async (records) => {
        firstAt ??= performance.now();
        batches += 1;
        const todo = records.slice(0, n - count);
        for (const chunk of bySize(todo.map((r) => ({ key: r.key, value: r.value, headers: r.headers }))))
          await kafka.produce(output, chunk);
        count += todo.length;
        lastAt = performance.now();
        if (count >= n) stop.abort();
      },
      stop.signal,
    );
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (count < n) throw new Error(`raw consume-and-produce stopped after ${count} of ${n} records`);
  const seconds = (lastAt - t0) / 1000;
  return {
    messages: count,
    seconds,
    perSecond: count / seconds,
    firstBatchSeconds: firstAt === null ? null : (firstAt - t0) / 1000,
    batches,
  };
}

/** Consecutive runs of records of at most `SEND_CHUNK_BYTES` (a record's own size counts once, however large). */
function bySize(records: StreamRecord[]): StreamRecord[][] {
  const out: StreamRecord[][] = [];
  let current: StreamRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    // Payload plus a generous allowance for the record's framing.
    let size = Buffer.byteLength(r.value) + (r.key === null ? 0 : Buffer.byteLength(r.key)) + 32;
    for (const [k, v] of Object.entries(r.headers ?? {})) size += Buffer.byteLength(k) + Buffer.byteLength(v);
    if (current.length > 0 && bytes + size > SEND_CHUNK_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Model version → its server's URL (the candidate's outputs are checked against its own server). */
const serverUrls = new Map<number, string>();

async function serve(
  python: string,
  runtimeDir: string,
  artifact: string,
  version: number,
  servers: RunningModelServer[],
  signal: AbortSignal,
): Promise<ServedModel> {
  const server = await startModelServer({
    python,
    runtimeDir,
    modelDir: exampleModel,
    artifact,
    modelName: MODEL,
    modelVersion: String(version),
    host: '127.0.0.1',
    signal,
  });
  servers.push(server);
  serverUrls.set(version, server.url);
  const client = new KServeClient(server.url, MODEL);
  // Features from the server's metadata, as the shadow stage takes them.
  const meta = await client.metadata();
  const features = meta.inputs.map((i) => ({ name: i.name, type: datatypeToFeature[i.datatype] ?? 'string' }));
  return { client, features, version };
}

async function topicSize(kafka: KafkaPort, topic: string): Promise<number> {
  const offsets = await kafka.partitionOffsets(topic);
  return offsets.reduce((sum, o) => sum + Number(BigInt(o.high) - BigInt(o.low)), 0);
}

async function readAll(kafka: KafkaPort, topic: string): Promise<ConsumedRecord[]> {
  const ranges = (await kafka.partitionOffsets(topic)).map((o) => ({
    partition: o.partition,
    from: o.low,
    to: o.high,
  }));
  const out: ConsumedRecord[] = [];
  await kafka.readRanges(topic, ranges, async (records) => void out.push(...records));
  return out;
}

/**
 * The outputs, record by record: the raw topic holds each input's key and value once, and each
 * shadow record names one input (its `mloop-source` header), once, with the prediction that
 * scoring that reading directly (in JSON, not the binary tensors the runner sends) gives.
 */
async function checkOutputs(
  kafka: KafkaPort,
  topics: { input: string; raw: string; shadow: string },
  url: string,
  features: FeatureSpec[],
): Promise<string[]> {
  const [inputs, rawOut, shadowOut] = await Promise.all([
    readAll(kafka, topics.input),
    readAll(kafka, topics.raw),
    readAll(kafka, topics.shadow),
  ]);
  const problems: string[] = [];
  const copies = new Map<string, number>();
  for (const r of inputs) copies.set(`${r.key}\u0000${r.value}`, (copies.get(`${r.key}\u0000${r.value}`) ?? 0) + 1);
  for (const r of rawOut) {
    const id = `${r.key}\u0000${r.value}`;
    const n = copies.get(id) ?? 0;
    if (n === 0) problems.push(`raw output ${r.partition}/${r.offset} is no input record not copied already`);
    else copies.set(id, n - 1);
  }
  const direct = new KServeClient(url, MODEL, { binaryData: 'never' });
  const expected = new Map<string, number | string>();
  for (let i = 0; i < inputs.length; i += 5000) {
    const chunk = inputs.slice(i, i + 5000);
    const res = await direct.infer(
      chunk.map((r) => JSON.parse(r.value) as object),
      features,
    );
    chunk.forEach((r, j) => expected.set(sourceOf(r), res.predictions[j] as number | string));
  }
  const seen = new Set<string>();
  for (const r of shadowOut) {
    const source = r.headers?.['mloop-source'] ?? '';
    const prediction = (JSON.parse(r.value) as { prediction?: unknown }).prediction;
    if (!expected.has(source)) problems.push(`shadow output ${r.partition}/${r.offset} names no input (${source})`);
    else if (seen.has(source)) problems.push(`shadow output ${r.partition}/${r.offset} repeats ${source}`);
    else if (prediction !== expected.get(source))
      problems.push(
        `shadow output for ${source}: prediction ${String(prediction)}, directly ${String(expected.get(source))}`,
      );
    seen.add(source);
  }
  if (seen.size !== inputs.length) problems.push(`shadow outputs name ${seen.size} of ${inputs.length} inputs`);
  return problems.slice(0, 10);
}

const ms = (x: number | null | undefined): string => (x === null || x === undefined ? 'n/a' : x.toFixed(1));
const pad = (s: string, w: number): string => s.padStart(w);

function printResults(raw: PhaseResult, shadow: PhaseResult, rep: ShadowReport): void {
  const rows: Array<[string, PhaseResult]> = [
    ['raw kafkajs consume-and-produce', raw],
    ['shadow (candidate + champion)', shadow],
  ];
  console.log('');
  console.log(`${'phase'.padEnd(34)}${pad('messages', 10)}${pad('seconds', 10)}${pad('messages/s', 12)}`);
  for (const [name, r] of rows)
    console.log(
      `${name.padEnd(34)}${pad(String(r.messages), 10)}` +
        `${pad(r.seconds.toFixed(2), 10)}${pad(r.perSecond.toFixed(0), 12)}`,
    );
  console.log('');
  console.log(
    `shadow scoring runs at ${(shadow.perSecond / raw.perSecond).toFixed(2)}× raw kafkajs consume-and-produce`,
  );
  const first = (r: PhaseResult): string =>
    r.firstBatchSeconds === null ? 'n/a' : `${r.firstBatchSeconds.toFixed(2)} s`;
  console.log(
    `(both times include joining a fresh consumer group: ` +
      `first records after ${first(raw)} raw, ${first(shadow)} shadow;`,
  );
  console.log(
    ` the shadow report's time also counts ${(shadow.tailSeconds ?? 0).toFixed(2)} s from its last batch ` +
      `to its return, leaving the group)`,
  );
  console.log('');
  // On a shared machine the wall times vary with the load; the CPU each phase took varies less.
  const cpuSum = (c: CpuSeconds): string => c.servers.map((x) => x.toFixed(2)).join(' + ') || 'n/a';
  console.log(`${'CPU seconds (user + system)'.padEnd(34)}${pad('this node', 10)}${pad('model servers', 16)}`);
  for (const [name, r] of rows)
    console.log(`${name.padEnd(34)}${pad(r.cpu.bench.toFixed(2), 10)}${pad(cpuSum(r.cpu), 16)}`);
  console.log('');
  // The runner charges every message the latency of the request that scored it.
  console.log(`${'inference latency per message (ms)'.padEnd(34)}${pad('p50', 10)}${pad('p99', 10)}`);
  for (const [name, m] of [
    ['candidate', rep.candidate],
    ['champion', rep.champion],
  ] as const) {
    console.log(`${name.padEnd(34)}${pad(ms(m?.latencyMs.p50), 10)}${pad(ms(m?.latencyMs.p99), 10)}`);
  }
  const agreement = rep.comparison.agreement === null ? 'n/a' : `${(rep.comparison.agreement * 100).toFixed(1)}%`;
  console.log(
    `(kafkajs handed over ${raw.batches} batches raw, ${shadow.batches} shadow: ` +
      `the runner sends one request per batch and model, ` +
      `about ${Math.round(shadow.messages / Math.max(1, shadow.batches))} rows each;`,
  );
  console.log(
    ` candidate and champion agree on ${agreement} of ${rep.comparison.messages}: ` +
      `the same artifact, so 100% is expected)`,
  );
}

async function main(): Promise<void> {
  const args = parseCli();
  const config = loadConfig();
  const bad = config.kafkaBrokers.filter((b) => !loopback.has(hostOf(b)));
  if (bad.length > 0) throw new Error(`this bench only talks to 127.0.0.1; KAFKA_BROKERS names ${bad.join(', ')}`);

  const interrupt = new AbortController();
  const onSignal = (): void => interrupt.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const id = randomUUID().slice(0, 8);
  const topics = {
    input: `bench.shadow.${id}.input`,
    raw: `bench.shadow.${id}.raw-out`,
    shadow: `bench.shadow.${id}.shadow`,
    dead: `bench.shadow.${id}.dead-letter`,
  };
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'mloop-bench-shadow-'));
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'mloop-bench' });
  // Admin only for what the port does not offer: checking where the broker sends us, and
  // deleting the bench's topics afterwards.
  const admin = new Kafka({
    clientId: 'mloop-bench-admin',
    brokers: config.kafkaBrokers,
    logLevel: logLevel.WARN,
  }).admin();
  const servers: RunningModelServer[] = [];
  let created = false;

  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    const remote = cluster.brokers.filter((b) => !loopback.has(b.host));
    if (remote.length > 0)
      throw new Error(
        `the broker advertises ${remote.map((b) => `${b.host}:${b.port}`).join(', ')}; ` +
          `this bench only talks to 127.0.0.1`,
      );

    const load = os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    console.log(
      `mloop shadow throughput: ${args.messages} messages, produced in batches of ${args.batch}; ` +
        `${os.cpus().length} CPUs, load ${load}, node ${process.version}`,
    );

    // Setup: a real artifact, and the input topic filled once for both phases.
    let t0 = performance.now();
    const runtime = new PythonRuntime({ python: config.pythonExecutable, runtimeDir: config.runtimeDir });
    const dataset = path.join(work, 'history.csv');
    writeHistory(dataset, TRAINING_ROWS, 42);
    const outDir = path.join(work, 'out');
    const trained = await runtime.train(
      { modelDir: exampleModel, dataset, outDir, seed: 0, holdoutFraction: 0.2 },
      { signal: interrupt.signal, timeoutMs: PHASE_LIMIT_MS },
    );
    const artifact = path.join(outDir, trained.artifact);
    console.log(
      `setup: trained ${MODEL} on ${TRAINING_ROWS} rows in ${secondsSince(t0).toFixed(1)} s ` +
        `(holdout roc_auc ${trained.metrics.roc_auc?.toFixed(3) ?? 'n/a'})`,
    );

    t0 = performance.now();
    created = true;
    await kafka.ensureTopic(topics.input, 3);
    // One partition for each output, as the shadow stage creates its shadow and dead-letter topics.
    for (const t of [topics.raw, topics.shadow, topics.dead]) await kafka.ensureTopic(t, 1);
    const rng = createRng(READINGS_SEED);
    for (let i = 0; i < args.messages; i += args.batch) {
      if (interrupt.signal.aborted) throw new Error('interrupted');
      const size = Math.min(args.batch, args.messages - i);
      await kafka.produce(
        topics.input,
        Array.from({ length: size }, (_, k) => ({
          key: `reading-${i + k}`,
          value: JSON.stringify(generateReading(rng)),
        })),
      );
    }
    const offsets = await kafka.partitionOffsets(topics.input);
    const starts = Object.fromEntries(offsets.map((o) => [String(o.partition), o.low]));
    const stored = await topicSize(kafka, topics.input);
    if (stored !== args.messages) throw new Error(`the input topic holds ${stored} records, expected ${args.messages}`);
    console.log(
      `setup: produced ${args.messages} readings to ${offsets.length} partitions ` +
        `(${offsets.map((o) => o.high).join('/')}) in ${secondsSince(t0).toFixed(1)} s`,
    );

    // Two servers from the same artifact, as the shadow stage runs candidate and champion.
    t0 = performance.now();
    const [candidate, champion] = await Promise.all([
      serve(config.pythonExecutable, config.runtimeDir, artifact, 2, servers, interrupt.signal),
      serve(config.pythonExecutable, config.runtimeDir, artifact, 1, servers, interrupt.signal),
    ]);
    console.log(
      `setup: candidate and champion model servers up in ${secondsSince(t0).toFixed(1)} s ` +
        `(${servers.map((s) => s.url).join(', ')})`,
    );

    console.log('running: raw consume-and-produce …');
    const rawCpu = await cpuMeter(servers);
    const rawPhase = await bounded('the raw consume-and-produce phase', interrupt.signal, (signal) =>
      rawConsumeProduce(kafka, topics.input, topics.raw, starts, args.messages, signal),
    );
    const raw: PhaseResult = { ...rawPhase, cpu: await rawCpu() };
    const rawOut = await topicSize(kafka, topics.raw);
    if (rawOut !== args.messages)
      throw new Error(`the raw output topic holds ${rawOut} records, expected ${args.messages}`);

    console.log('running: shadow test …');
    // Set from callbacks, so held in an object rather than narrowed locals.
    const watch: { start: number; firstAt: number | null; lastAt: number; batches: number } = {
      start: 0,
      firstAt: null,
      lastAt: 0,
      batches: 0,
    };
    // The same port, watched only for when batches reach the runner and how many.
    const watched: KafkaPort = {
      ...kafka,
      stream: (s, onBatch, signal) =>
        kafka.stream(
          s,
          async (records) => {
            watch.firstAt ??= performance.now();
            watch.batches += 1;
            await onBatch(records);
            watch.lastAt = performance.now();
          },
          signal,
        ),
    };
    let shadowReturnedAt = 0;
    const shadowCpu = await cpuMeter(servers);
    const rep = await bounded('the shadow phase', interrupt.signal, async (signal) => {
      watch.start = performance.now();
      return runShadow({
        kafka: watched,
        model: MODEL,
        candidate,
        champion,
        inputTopic: topics.input,
        labelField: 'label',
        shadowTopic: topics.shadow,
        deadLetterTopic: topics.dead,
        // A fresh start, as the stage builds it (its default one-hour label window): the state
        // holds the offsets it starts from.
        checkpoint: {
          offsets: starts,
          labelOffsets: {},
          state: { ...emptyShadowState('classification', { labelWindowMs: 3600_000 }), offsets: { ...starts } },
        },
        maxMessages: args.messages,
        deadlineMs: null,
        elapsedBeforeMs: 0,
        onCheckpoint: () => {},
        signal,
      }).finally(() => (shadowReturnedAt = performance.now()));
    });
    const scored = Math.min(rep.candidate.scored, rep.champion?.scored ?? 0);
    if (rep.messages !== args.messages || scored !== args.messages || rep.deadLettered.total > 0) {
      throw new Error(
        `the shadow test did not score every message: ${rep.messages} applied, ` +
          `candidate ${rep.candidate.scored}, champion ${rep.champion?.scored ?? 0} scored, ` +
          `${rep.deadLettered.total} dead-lettered; failures ` +
          `${JSON.stringify({ candidate: rep.candidate.failures, champion: rep.champion?.failures ?? {} })}`,
      );
    }
    const shadowOut = await topicSize(kafka, topics.shadow);
    if (shadowOut !== args.messages)
      throw new Error(`the shadow topic holds ${shadowOut} records, expected ${args.messages}`);
    const shadow: PhaseResult = {
      messages: rep.messages,
      seconds: rep.elapsedMs / 1000,
      perSecond: rep.messagesPerSecond ?? 0,
      firstBatchSeconds: watch.firstAt === null ? null : (watch.firstAt - watch.start) / 1000,
      batches: watch.batches,
      tailSeconds: (shadowReturnedAt - watch.lastAt) / 1000,
      cpu: await shadowCpu(),
    };
    const problems = await checkOutputs(kafka, topics, serverUrls.get(candidate.version) ?? '', candidate.features);
    if (problems.length > 0) throw new Error(`wrong outputs:\n  ${problems.join('\n  ')}`);
    printResults(raw, shadow, rep);
    console.log(
      '(every raw and shadow record checked against its input: ' +
        'copies, and predictions equal to scoring directly in JSON)',
    );
    console.log(
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} after the phases`,
    );
  } finally {
    // Signal handlers stay until the end, so a second Ctrl-C cannot cut the cleanup short.
    await Promise.allSettled(servers.map((s) => s.stop()));
    await kafka.close().catch((err: unknown) => console.error(`closing the Kafka adapter: ${String(err)}`));
    if (created)
      await admin
        .deleteTopics({ topics: Object.values(topics) })
        .catch((err: unknown) => console.error(`deleting the bench topics: ${String(err)}`));
    await admin.disconnect().catch(() => undefined);
    await fs.rm(work, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
