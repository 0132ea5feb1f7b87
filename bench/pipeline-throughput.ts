/**
 * How fast pipeline stream processors go, against raw kafkajs consume-and-produce on the same
 * topic in the same process run: `npx tsx bench/pipeline-throughput.ts [--messages 60000]
 * [--guarantee at-least-once|exactly-once] [--batch-size 5000] [--repeat 3]`, with the broker and Python
 * runtime of the environment (KAFKA_PORT / KAFKA_BROKERS, MLOOP_PYTHON). See bench/README.md.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Partitioners, type Message } from 'kafkajs';
import { loadConfig } from '../core/config';
import type { ConsumedRecord } from '../core/kafka/adapter';
import { createKafka, readPartitionToEnd } from '../core/kafka/transactions';
import { ensureTopics } from '../core/kafka/topics';
import { runProcessor, type ProcessorCheckpoint } from '../core/pipeline/processor';
import type { Guarantee, PipelineSpec, TransformSpec } from '../core/pipeline/spec';
import { assertValidPipeline } from '../core/pipeline/validate';
import { pipelineTopics } from '../core/pipeline/topics';
import { PythonRuntime } from '../core/python/runtime';
import { KServeClient, type FeatureSpec } from '../core/serving/kserve-client';
import { startModelServer, type RunningModelServer } from '../core/serving/model-server';
import { writeHistory } from '../examples/predictive-maintenance/data/generate-history';
import { createRng, generateReading } from '../examples/predictive-maintenance/data/sensors';
import { checkMap, checkModel, checkRaw, readingIdentity, type Expected } from './pipeline-checks';

const MODEL = 'predictive-maintenance';
const exampleModel = path.resolve(import.meta.dirname, '../examples/predictive-maintenance/model');
const PHASE_LIMIT_MS = 5 * 60_000;
const PARTITIONS = 3;
const SEND_BYTES = 512 * 1024;
const loopback = new Set(['127.0.0.1', 'localhost', '::1']);
const datatypeToFeature: Record<string, FeatureSpec['type']> = {
  FP64: 'number',
  FP32: 'number',
  INT64: 'integer',
  INT32: 'integer',
  BYTES: 'string',
};
const readingFields = {
  machine_id: 'string',
  temperature_c: 'number',
  vibration_mm_s: 'number',
  pressure_bar: 'number',
  rpm: 'number',
  operating_hours: 'number',
} as const;

interface Args {
  messages: number;
  guarantee: Guarantee;
  batchSize: number;
  /** Rounds of the three phases, one after another, so a change of the machine's load hits all alike. */
  repeat: number;
}

interface Phase {
  name: string;
  messages: number;
  seconds: number;
  perSecond: number;
  /** The phase's output topic; its committed records are counted after the phase. */
  output: string;
  outputs?: number;
  /** CPU time of this process (user + system) per message, in µs. */
  cpuPerMessageUs?: number;
}

/** Runs a phase and adds the CPU time this process spent in it. */
async function measured<T extends Phase>(fn: () => Promise<T>): Promise<T> {
  const before = process.cpuUsage();
  const p = await fn();
  const used = process.cpuUsage(before);
  return { ...p, cpuPerMessageUs: (used.user + used.system) / Math.max(1, p.messages) };
}

function parseCli(): Args {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '60000' },
      guarantee: { type: 'string', default: 'at-least-once' },
      'batch-size': { type: 'string', default: '5000' },
      repeat: { type: 'string', default: '3' },
    },
  });
  const int = (name: string, raw: string | undefined): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer (got "${raw}")`);
    return n;
  };
  if (values.guarantee !== 'at-least-once' && values.guarantee !== 'exactly-once')
    throw new Error('--guarantee must be at-least-once or exactly-once');
  return {
    messages: int('messages', values.messages),
    guarantee: values.guarantee,
    batchSize: int('batch-size', values['batch-size']),
    repeat: int('repeat', values.repeat),
  };
}

const hostOf = (broker: string): string => broker.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');

/**
 * The committed records of a topic, read back: offsets alone would also count the markers
 * that transactions leave, one per partition and commit.
 */
async function committedRecords(brokers: string[], topic: string): Promise<ConsumedRecord[]> {
  const kafka = createKafka(brokers, 'mloop-bench-count');
  const out: ConsumedRecord[] = [];
  for (let p = 0; p < PARTITIONS; p++) out.push(...(await readPartitionToEnd(kafka, topic, p)));
  return out;
}

/**
 * The direct computation the model transform's outputs are checked against: every reading scored
 * through the same server in JSON (not the binary tensors the transform sends), untimed.
 */
async function directScores(
  url: string,
  features: FeatureSpec[],
  inputs: ConsumedRecord[],
): Promise<Map<string, Expected>> {
  const client = new KServeClient(url, MODEL, { binaryData: 'never' });
  const rows = inputs.map((r) => JSON.parse(r.value) as Record<string, unknown>);
  const out = new Map<string, Expected>();
  for (let i = 0; i < rows.length; i += 5000) {
    const chunk = rows.slice(i, i + 5000);
    const res = await client.infer(chunk, features);
    chunk.forEach((row, j) =>
      out.set(readingIdentity(row), {
        prediction: res.predictions[j] as number | string,
        probability: res.probabilities?.[j] ?? null,
      }),
    );
  }
  return out;
}

async function topicSize(brokers: string[], topic: string): Promise<number> {
  const admin = createKafka(brokers, 'mloop-bench-admin').admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, o) => sum + Number(BigInt(o.high) - BigInt(o.low)), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * The baseline: a kafkajs consumer group with the same settings as the processors (batches,
 * partitions in parallel, 200 ms fetch wait), producing every record unchanged and committing
 * the batch's offset after the send, which is what at-least-once processors do too.
 */
async function raw(brokers: string[], input: string, output: string, n: number, groupId: string): Promise<Phase> {
  const kafka = createKafka(brokers, 'mloop-bench-raw');
  const consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 200,
    sessionTimeout: 10_000,
    heartbeatInterval: 2000,
    allowAutoTopicCreation: false,
  });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  // Timed from before connecting, as the processors are (their time includes their connections too).
  const t0 = performance.now();
  await Promise.all([consumer.connect(), producer.connect()]);
  let count = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.subscribe({ topic: input, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch }) => {
      let piece: Message[] = [];
      let bytes = 0;
      for (const m of batch.messages) {
        const size = (m.value?.length ?? 0) + (m.key?.length ?? 0) + 64;
        if (bytes + size > SEND_BYTES && piece.length > 0) {
          await producer.send({ topic: output, acks: -1, messages: piece });
          piece = [];
          bytes = 0;
        }
        piece.push({ key: m.key, value: m.value });
        bytes += size;
      }
      if (piece.length > 0) await producer.send({ topic: output, acks: -1, messages: piece });
      const last = batch.messages.at(-1);
      if (last)
        await consumer.commitOffsets([
          { topic: input, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
        ]);
      count += batch.messages.length;
      if (count >= n) done();
    },
  });
  const limit = setTimeout(done, PHASE_LIMIT_MS);
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  clearTimeout(limit);
  await consumer.disconnect();
  await producer.disconnect();
  return { name: 'raw kafkajs consume-and-produce', messages: count, seconds, perSecond: count / seconds, output };
}

/** One processor replica over the input until it has processed all of it. */
async function processor(
  name: string,
  brokers: string[],
  spec: PipelineSpec,
  features: FeatureSpec[],
  endpoint: { url: string } | null,
  n: number,
): Promise<Phase & { last: ProcessorCheckpoint }> {
  const pipeline = assertValidPipeline(spec, { models: { [`${MODEL}#1`]: features } });
  await ensureTopics(brokers, pipelineTopics(pipeline));
  const controller = new AbortController();
  let last: ProcessorCheckpoint | null = null;
  let doneAt = 0;
  const t0 = performance.now();
  const limit = setTimeout(() => controller.abort(), PHASE_LIMIT_MS);
  const run = runProcessor({
    brokers,
    pipeline,
    transform: 'step',
    signal: controller.signal,
    checkpointIntervalMs: 20,
    ...(endpoint ? { endpoint: { url: endpoint.url, modelName: MODEL, features, version: '1' } } : {}),
    onCheckpoint: (c) => {
      last = c;
      if (c.counts.consumed >= n && doneAt === 0) {
        doneAt = performance.now();
        controller.abort();
      }
    },
  });
  const final = await run;
  clearTimeout(limit);
  const seconds = ((doneAt || performance.now()) - t0) / 1000;
  const output = (spec.transforms[0] as TransformSpec).output;
  const messages = (last as ProcessorCheckpoint | null)?.counts.consumed ?? 0;
  return { name, messages, seconds, perSecond: messages / seconds, output, last: final };
}

async function main(): Promise<void> {
  const args = parseCli();
  const config = loadConfig();
  const brokers = config.kafkaBrokers;
  const bad = brokers.filter((b) => !loopback.has(hostOf(b)));
  if (bad.length > 0) throw new Error(`this bench only talks to 127.0.0.1; KAFKA_BROKERS names ${bad.join(', ')}`);
  const id = `bench-pipeline-${Date.now().toString(36)}`;
  const topics = { input: `${id}.input` };
  const created: string[] = [];
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'mloop-bench-pipeline-'));
  const admin = createKafka(brokers, 'mloop-bench-admin').admin();
  let server: RunningModelServer | undefined;
  try {
    await admin.connect();
    const remote = (await admin.describeCluster()).brokers.filter((b) => !loopback.has(b.host));
    if (remote.length > 0)
      throw new Error(
        `the broker advertises ${remote.map((b) => `${b.host}:${b.port}`).join(', ')}; ` +
          'this bench only talks to 127.0.0.1',
      );
    const load = os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    console.log(
      `mloop pipeline throughput: ${args.messages} readings, ${args.guarantee}, model batches of ${args.batchSize}; ` +
        `${os.cpus().length} CPUs, load ${load}, node ${process.version}`,
    );

    let t0 = performance.now();
    const runtime = new PythonRuntime({ python: config.pythonExecutable, runtimeDir: config.runtimeDir });
    const dataset = path.join(work, 'history.csv');
    writeHistory(dataset, 2000, 42);
    const trained = await runtime.train(
      { modelDir: exampleModel, dataset, outDir: path.join(work, 'out'), seed: 0, holdoutFraction: 0.2 },
      { timeoutMs: PHASE_LIMIT_MS },
    );
    server = await startModelServer({
      python: config.pythonExecutable,
      runtimeDir: config.runtimeDir,
      modelDir: exampleModel,
      artifact: path.join(work, 'out', trained.artifact),
      modelName: MODEL,
      modelVersion: '1',
    });
    const meta = await new KServeClient(server.url, MODEL).metadata();
    const features = meta.inputs.map((i) => ({ name: i.name, type: datatypeToFeature[i.datatype] ?? 'string' }));
    console.log(
      `setup: trained and serving ${MODEL} in ${((performance.now() - t0) / 1000).toFixed(1)} s (${server.url})`,
    );

    t0 = performance.now();
    await ensureTopics(brokers, [{ name: topics.input, partitions: PARTITIONS }]);
    // Idempotent, so that a retried request cannot write input twice and spoil the output counts.
    const producer = createKafka(brokers, 'mloop-bench-setup').producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const rng = createRng(1);
    for (let i = 0; i < args.messages; i += 2000) {
      const messages = Array.from({ length: Math.min(2000, args.messages - i) }, () => {
        const r = generateReading(rng);
        return { key: r.machine_id, value: JSON.stringify(r) };
      });
      await producer.send({ topic: topics.input, acks: -1, messages });
    }
    await producer.disconnect();
    const stored = await topicSize(brokers, topics.input);
    if (stored !== args.messages) throw new Error(`the input topic holds ${stored} records, expected ${args.messages}`);
    console.log(
      `setup: produced ${args.messages} readings to ${PARTITIONS} partitions ` +
        `in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    const spec = (name: string, output: string, step: Record<string, unknown>): PipelineSpec => ({
      name: `${id}-${name}`,
      guarantee: args.guarantee,
      topics: [
        { name: topics.input, partitions: PARTITIONS, external: true, fields: readingFields },
        { name: output, partitions: PARTITIONS },
      ],
      transforms: [{ name: 'step', input: topics.input, output, ...step } as TransformSpec],
    });
    const url = server.url;
    const inputs = await committedRecords(brokers, topics.input);
    const expected = await directScores(url, features, inputs);
    /** One round: the three phases one after the other, each on fresh output topics and groups, checked. */
    const round = async (r: number): Promise<Phase[]> => {
      const out = { raw: `${id}.raw-out-${r}`, map: `${id}.map-out-${r}`, model: `${id}.model-out-${r}` };
      created.push(...Object.values(out));
      await ensureTopics(
        brokers,
        Object.values(out).map((name) => ({ name, partitions: PARTITIONS })),
      );
      console.log(`round ${r}: raw kafkajs consume-and-produce, map transform, model transform …`);
      const rawPhase = await measured(() => raw(brokers, topics.input, out.raw, args.messages, `${id}.raw-${r}`));
      const map = await measured(() =>
        processor(
          'map transform',
          brokers,
          spec(`map-${r}`, out.map, {
            kind: 'map',
            set: { heat: 'temperature_c * vibration_mm_s', hot: 'temperature_c > 80' },
          }),
          features,
          null,
          args.messages,
        ),
      );
      const model = await measured(() =>
        processor(
          'model transform',
          brokers,
          spec(`model-${r}`, out.model, { kind: 'model', model: MODEL, version: 1, batchSize: args.batchSize }),
          features,
          { url },
          args.messages,
        ),
      );
      const phases = [rawPhase, map, model];
      // Every output, record by record: raw copies, map's computed fields, the model's scores.
      const [rawOut, mapOut, modelOut] = await Promise.all(phases.map((p) => committedRecords(brokers, p.output)));
      const problems = [
        ...checkRaw(inputs, rawOut ?? []),
        ...checkMap(inputs, mapOut ?? []),
        ...checkModel(inputs, modelOut ?? [], expected, '1'),
      ];
      [rawOut, mapOut, modelOut].forEach((o, i) => ((phases[i] as Phase).outputs = o?.length ?? 0));
      for (const p of phases) {
        if (p.messages !== args.messages || p.outputs !== args.messages) {
          const counted = `processed ${p.messages} and wrote ${p.outputs} records`;
          problems.unshift(`${p.name}: ${counted}, expected ${args.messages}`);
        }
      }
      for (const [name, last] of [
        ['map', map.last],
        ['model', model.last],
      ] as const) {
        if (last.counts.deadLettered > 0) problems.push(`${name}: dead-lettered ${last.counts.deadLettered} records`);
        if (last.counts.errors > 0)
          console.log(`(${name}: ${last.counts.errors} failed batches retried: ${last.lastError})`);
      }
      if (problems.length > 0) throw new Error(`round ${r}, wrong outputs:\n  ${problems.join('\n  ')}`);
      return phases;
    };
    const rounds: Phase[][] = [];
    for (let r = 1; r <= args.repeat; r++) rounds.push(await round(r));
    const loadAfter = os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');

    console.log('');
    const head = ['messages', 'outputs', 'seconds', 'messages/s', '× raw', 'CPU µs/msg'];
    console.log(`${'round  phase'.padEnd(40)}${head.map((h) => h.padStart(12)).join('')}`);
    rounds.forEach((phases, r) => {
      const base = phases[0] as Phase;
      for (const p of phases) {
        const cells = [
          p.messages,
          p.outputs ?? 'n/a',
          p.seconds.toFixed(2),
          p.perSecond.toFixed(0),
          (p.perSecond / base.perSecond).toFixed(2),
          p.cpuPerMessageUs?.toFixed(1) ?? 'n/a',
        ];
        console.log(`${`${r + 1}      ${p.name}`.padEnd(40)}${cells.map((c) => String(c).padStart(12)).join('')}`);
      }
    });
    const ratios = (k: number): number[] => rounds.map((ph) => (ph[k] as Phase).perSecond / (ph[0] as Phase).perSecond);
    const best = (k: number): number => Math.max(...rounds.map((ph) => (ph[k] as Phase).perSecond));
    const median = (xs: number[]): number => {
      const s = [...xs].sort((a, b) => a - b);
      const mid = Math.floor(s.length / 2);
      return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
    };
    const spread = (xs: number[]): string =>
      `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}, median ${median(xs).toFixed(2)}`;
    console.log('');
    console.log(
      `best of ${args.repeat} rounds: ` +
        `raw ${best(0).toFixed(0)}, map ${best(1).toFixed(0)}, model ${best(2).toFixed(0)} ` +
        'messages/s',
    );
    console.log(
      `targets: map ≥ 0.80× raw (best/best ${(best(1) / best(0)).toFixed(2)}×, per round ${spread(ratios(1))}), ` +
        `model ≥ 0.70× raw (best/best ${(best(2) / best(0)).toFixed(2)}×, per round ${spread(ratios(2))})`,
    );
    console.log(
      '(each time includes joining a fresh consumer group; every output topic holds exactly one committed record ' +
        'per input, checked field by field: raw copies, map values, model scores equal to scoring directly in JSON)',
    );
    console.log(`load average ${load} before, ${loadAfter} after the rounds`);
  } finally {
    await server?.stop();
    await admin.deleteTopics({ topics: [...Object.values(topics), ...created] }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await fs.rm(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
