import type { KafkaPort } from '../kafka/adapter';
import { MloopError } from '../errors';
import { durationMs } from '../pipeline/spec';
import type { ValidatedPipeline } from '../pipeline/validate';
import { replayFile, type FileReplayCheckpoint } from './file-source';
import { createJsonlSink } from './jsonl-sink';
import { runMqttSource, type MqttSourceStatus } from './mqtt-source';
import { createPostgresSink } from './postgres-sink';
import { runSensorSource, type SensorCheckpoint } from './sensor-source';
import type { SinkWriter } from './sink-runner';
import { createWebhookSink } from './webhook-sink';

/**
 * The connector for each source and sink of a validated pipeline, with settings the spec
 * leaves to the environment: the PostgreSQL URL (`POSTGRES_URL`, else the dev server on
 * `POSTGRES_PORT`) and the webhook's secret (the variable the spec names).
 */
export function postgresUrl(env: NodeJS.ProcessEnv): string {
  return env.POSTGRES_URL ?? `postgres://mloop@127.0.0.1:${env.POSTGRES_PORT ?? '55432'}/mloop`;
}

export function createSinkWriter(
  pipeline: ValidatedPipeline,
  sinkName: string,
  env: NodeJS.ProcessEnv = process.env,
): SinkWriter {
  const sink = pipeline.spec.sinks?.find((s) => s.name === sinkName);
  if (!sink)
    throw new MloopError('NotFound', `pipeline ${pipeline.spec.name} has no sink ${sinkName}`, { field: 'sink' });
  switch (sink.kind) {
    case 'postgres':
      return createPostgresSink(sink, pipeline.fields[sink.topic] ?? {}, {
        connectionString: sink.url ?? postgresUrl(env),
      });
    case 'webhook': {
      const secret = env[sink.secretEnv];
      if (!secret)
        throw new MloopError(
          'InvalidInput',
          `sink ${sink.name}: the environment variable ${sink.secretEnv} holding its HMAC key is not set`,
          { field: 'secretEnv' },
        );
      return createWebhookSink({
        url: sink.url,
        secret,
        ...(sink.timeout ? { timeoutMs: durationMs(sink.timeout) } : {}),
      });
    }
    case 'jsonl':
      return createJsonlSink(sink);
  }
}

export type SourceCheckpoint = FileReplayCheckpoint | SensorCheckpoint | MqttSourceStatus;

export interface SourceRunOptions {
  kafka: KafkaPort;
  pipeline: ValidatedPipeline;
  source: string;
  signal: AbortSignal;
  resume?: unknown;
  onCheckpoint?: (c: SourceCheckpoint) => void;
}

/**
 * Runs a long-lived source (file, MQTT, sensors) until it ends or `signal` aborts; http sources
 * are fed by requests (ingestRecords).
 */
export async function runSource(o: SourceRunOptions): Promise<SourceCheckpoint> {
  const source = o.pipeline.spec.sources?.find((s) => s.name === o.source);
  if (!source)
    throw new MloopError('NotFound', `pipeline ${o.pipeline.spec.name} has no source ${o.source}`, { field: 'source' });
  const base = { kafka: o.kafka, signal: o.signal };
  switch (source.kind) {
    case 'file':
      return replayFile({
        ...base,
        source,
        deadLetterTopic: o.pipeline.deadLetterTopic,
        resume: o.resume as FileReplayCheckpoint | undefined,
        onCheckpoint: o.onCheckpoint,
      });
    case 'sensors':
      return runSensorSource({
        ...base,
        source,
        resume: o.resume as SensorCheckpoint | undefined,
        onCheckpoint: o.onCheckpoint,
      });
    case 'mqtt':
      return runMqttSource({
        ...base,
        pipeline: o.pipeline.spec.name,
        source,
        deadLetterTopic: o.pipeline.deadLetterTopic,
        onStatus: o.onCheckpoint,
      });
    case 'http':
      throw new MloopError(
        'InvalidInput',
        `source ${source.name} takes records over HTTP (ingestRecords); it does not run on its own`,
        { field: 'source' },
      );
  }
}
