import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { createSinkWriter, runSource, type SourceCheckpoint } from '../core/connectors/connectors';
import { runSink, type SinkStatus } from '../core/connectors/sink-runner';
import type { KafkaPort } from '../core/kafka/adapter';
import { ensureTopics } from '../core/kafka/topics';
import {
  modelFeaturesOf,
  resolveModelEndpoint,
  type DeploymentLookup,
  type VersionServer,
} from '../core/pipeline/model-endpoints';
import { runProcessor, type ProcessorCheckpoint } from '../core/pipeline/processor';
import type { PipelineSpec } from '../core/pipeline/spec';
import { pipelineTopics } from '../core/pipeline/topics';
import { assertValidPipeline, type ValidatedPipeline } from '../core/pipeline/validate';
import { PipelineUnitFigures } from '../core/metrics/pipeline-units';
import {
  pipelineUnitKey,
  pipelineUnitReportSignal,
  type PipelineUnit,
  type UnitReport,
} from '../workflows/pipeline-definitions';

/** This worker process's pipeline series (mloop_pipeline_records_total, mloop_pipeline_lag_messages). */
const unitFigures = new PipelineUnitFigures();
import { withFailureMapping } from './failures';

export interface PipelineActivityDeps {
  brokers: string[];
  kafka: KafkaPort;
  /** What is deployed where: a model transform scores through a deployment's endpoint. */
  registry: DeploymentLookup;
  /** The server of one version of a deployment, for transforms that name a version. */
  versionServer?: VersionServer;
  /** For the reports each unit sends its pipeline workflow. */
  temporal: Client;
  /** Where sinks read their settings (PostgreSQL URL, webhook secrets); the worker's own by default. */
  env?: NodeJS.ProcessEnv;
}

export interface RunUnitInput {
  pipeline: ValidatedPipeline;
  unit: PipelineUnit;
  workflowId: string;
  /** Which start of the unit by its workflow this is; reports carry it. */
  run: number;
  reportIntervalMs: number;
  /** The unit's last reported checkpoint, for a unit started again by the workflow. */
  resume?: unknown;
}

/**
 * Sends a unit's figures to its workflow at most once per interval (the first and the last at
 * once), so the status query shows them without one history event per heartbeat.
 */
function reporter(temporal: Client, input: RunUnitInput): { report(r: UnitReport): void; flush(): Promise<void> } {
  const handle = temporal.workflow.getHandle(input.workflowId);
  let last = 0;
  let pending: UnitReport | undefined;
  let sending: Promise<void> = Promise.resolve();
  const send = (): void => {
    const r = pending;
    if (!r) return;
    pending = undefined;
    last = Date.now();
    // Best effort: a pipeline that is closing must not fail its units.
    sending = sending.then(() => handle.signal(pipelineUnitReportSignal, r).catch(() => undefined));
  };
  return {
    report(r) {
      pending = r;
      if (Date.now() - last >= input.reportIntervalMs) send();
    },
    async flush() {
      send();
      await sending;
    },
  };
}

/** Runs `body` with a heartbeat every second carrying the latest checkpoint, and reports to the workflow. */
async function supervised<C>(
  deps: PipelineActivityDeps,
  input: RunUnitInput,
  toReport: (c: C, rate: number) => Omit<UnitReport, 'unit' | 'attempt' | 'run'>,
  count: (c: C) => number,
  body: (resume: C | undefined, onCheckpoint: (c: C) => void, signal: AbortSignal) => Promise<C>,
): Promise<C> {
  const ctx = Context.current();
  const stage = `${input.unit.kind}:${input.unit.name}`;
  const resume = (ctx.info.heartbeatDetails as C | undefined) ?? (input.resume as C | undefined);
  const out = reporter(deps.temporal, input);
  let latest = resume;
  let prev = { n: resume === undefined ? 0 : count(resume), at: Date.now() };
  const noteCheckpoint = (c: C): void => {
    latest = c;
    const now = Date.now();
    const rate = now > prev.at ? ((count(c) - prev.n) * 1000) / (now - prev.at) : 0;
    if (now - prev.at >= 1000) prev = { n: count(c), at: now };
    const report = toReport(c, Math.round(rate * 10) / 10);
    unitFigures.note(input.pipeline.spec.name, pipelineUnitKey(input.unit), stage, report);
    out.report({ unit: input.unit, attempt: ctx.info.attempt, run: input.run, ...report });
  };
  const emptyReport = { counts: {}, partitions: [], messagesPerSecond: 0, errors: 0, lastError: null };
  // The resumed totals are this process's baseline for the unit's series.
  if (latest) unitFigures.note(input.pipeline.spec.name, pipelineUnitKey(input.unit), stage, toReport(latest, 0));
  out.report({
    unit: input.unit,
    attempt: ctx.info.attempt,
    run: input.run,
    ...(latest ? toReport(latest, 0) : emptyReport),
  });
  const beat = setInterval(() => ctx.heartbeat(latest), 1000);
  try {
    const result = await body(resume, noteCheckpoint, ctx.cancellationSignal);
    noteCheckpoint(result);
    // A unit stopped by its workflow ends as cancelled, never as a source that reached its end.
    if (ctx.cancellationSignal.aborted) throw new CancelledFailure('the pipeline stopped this unit');
    return result;
  } finally {
    clearInterval(beat);
    unitFigures.stopped(input.pipeline.spec.name, stage);
    await out.flush();
  }
}

const numbers = (x: object): Record<string, number> =>
  Object.fromEntries(Object.entries(x).filter((e): e is [string, number] => typeof e[1] === 'number'));

export const createPipelineActivities = (deps: PipelineActivityDeps) =>
  withFailureMapping({
    /**
     * Validates the spec against the models it scores with (their features from the deployed
     * servers) and creates its topics idempotently; returns the validated pipeline the units run.
     */
    async preparePipeline(input: { spec: PipelineSpec }): Promise<ValidatedPipeline> {
      const { models } = await modelFeaturesOf(input.spec, deps.registry);
      const pipeline = assertValidPipeline(input.spec, { models });
      await ensureTopics(deps.brokers, pipelineTopics(pipeline));
      return pipeline;
    },

    /** One replica of one transform, until the workflow cancels it; Kafka holds its place. */
    async runPipelineTransform(input: RunUnitInput): Promise<ProcessorCheckpoint> {
      const t = input.pipeline.spec.transforms.find((x) => x.name === input.unit.name);
      const endpoint =
        t?.kind === 'model' ? await resolveModelEndpoint(t, deps.registry, deps.versionServer) : undefined;
      return supervised<ProcessorCheckpoint>(
        deps,
        input,
        (c, rate) => ({
          counts: { ...c.counts },
          partitions: c.partitions,
          messagesPerSecond: c.messagesPerSecond || rate,
          errors: c.counts.errors,
          lastError: c.lastError,
          resume: c,
          ...(endpoint?.version ? { modelVersion: endpoint.version } : {}),
        }),
        (c) => c.counts.consumed,
        (resume, onCheckpoint, signal) =>
          runProcessor({
            brokers: deps.brokers,
            pipeline: input.pipeline,
            transform: input.unit.name,
            replica: input.unit.replica,
            ...(endpoint ? { endpoint } : {}),
            signal,
            onCheckpoint,
            ...(resume ? { resume } : {}),
          }),
      );
    },

    /** A long-lived source (file replay, MQTT, sensors); it goes on from its last checkpoint. */
    async runPipelineSource(input: RunUnitInput): Promise<SourceCheckpoint> {
      return supervised<SourceCheckpoint>(
        deps,
        input,
        (c, rate) => ({
          counts: numbers(c),
          partitions: [],
          messagesPerSecond: rate,
          errors: 'reconnects' in c ? c.reconnects : 0,
          lastError: 'lastError' in c ? c.lastError : null,
          resume: c,
        }),
        (c) => ('produced' in c ? c.produced : c.sent),
        async (resume, onCheckpoint, signal) => {
          // File and sensor checkpoints go on by themselves; an MQTT source's counters start at zero each run.
          const total = (c: SourceCheckpoint): SourceCheckpoint =>
            'received' in c && resume && 'received' in resume
              ? {
                  ...c,
                  received: resume.received + c.received,
                  produced: resume.produced + c.produced,
                  deadLettered: resume.deadLettered + c.deadLettered,
                  reconnects: resume.reconnects + c.reconnects,
                }
              : c;
          const last = await runSource({
            kafka: deps.kafka,
            pipeline: input.pipeline,
            source: input.unit.name,
            signal,
            resume,
            onCheckpoint: (c) => onCheckpoint(total(c)),
          });
          return total(last);
        },
      );
    },

    /** A sink draining its topic into its service, at least once. */
    async runPipelineSink(input: RunUnitInput): Promise<SinkStatus> {
      const writer = createSinkWriter(input.pipeline, input.unit.name, deps.env ?? process.env);
      return supervised<SinkStatus>(
        deps,
        input,
        (c, rate) => ({
          counts: { written: c.written, deadLettered: c.deadLettered },
          partitions: c.partitions,
          messagesPerSecond: rate,
          errors: c.errors,
          lastError: c.lastError,
          resume: c,
        }),
        (c) => c.written + c.deadLettered,
        async (resume, onCheckpoint, signal) => {
          // The sink's counters start at zero in each run; its figures go on from the last checkpoint.
          const total = (x: SinkStatus): SinkStatus => ({
            ...x,
            written: (resume?.written ?? 0) + x.written,
            deadLettered: (resume?.deadLettered ?? 0) + x.deadLettered,
            errors: (resume?.errors ?? 0) + x.errors,
          });
          const sink = input.unit.name;
          const last = await runSink({
            brokers: deps.brokers,
            pipeline: input.pipeline,
            sink,
            writer,
            signal,
            onStatus: (x) => onCheckpoint(total(x)),
          });
          return total(last);
        },
      );
    },
  });
