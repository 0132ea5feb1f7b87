import { createKafka, readPartitionToEnd } from '../../../core/kafka/transactions';
import type { ConsumedRecord } from '../../../core/kafka/adapter';
import { ensureTopics } from '../../../core/kafka/topics';
import { assertValidPipeline, type ValidatedPipeline } from '../../../core/pipeline/validate';
import { pipelineTopics } from '../../../core/pipeline/topics';
import type { PipelineSpec } from '../../../core/pipeline/spec';
import type { FeatureSpec } from '../../../core/serving/kserve-client';
import { config } from '../../helpers/stack';

export const brokers = config.kafkaBrokers;

/** Every committed record of a topic, partition by partition. */
export async function readTopic(topic: string): Promise<ConsumedRecord[]> {
  const kafka = createKafka(brokers, 'mloop-test-read');
  const admin = kafka.admin();
  await admin.connect();
  const partitions = (await admin.fetchTopicOffsets(topic)).map((o) => o.partition).sort((a, b) => a - b);
  await admin.disconnect();
  const out: ConsumedRecord[] = [];
  for (const p of partitions) out.push(...(await readPartitionToEnd(kafka, topic, p)));
  return out;
}

/** Validates `spec` and creates its topics (external ones included, as a test plays their producer). */
export async function setUpPipeline(
  spec: PipelineSpec,
  models: Record<string, readonly FeatureSpec[]> = {},
): Promise<ValidatedPipeline> {
  const pipeline = assertValidPipeline(spec, { models });
  const external = pipeline.topics
    .filter((t) => t.external)
    .map((t) => ({ name: t.name, partitions: t.partitions ?? 1 }));
  await ensureTopics(brokers, [...pipelineTopics(pipeline), ...external]);
  return pipeline;
}

export async function deleteTopics(prefix: string): Promise<void> {
  const admin = createKafka(brokers, 'mloop-test-cleanup').admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}
