import type { TopicConfig } from '../kafka/topics';
import { changelogTopic } from './processor';
import { durationMs } from './spec';
import type { ValidatedPipeline } from './validate';

/**
 * Every topic a pipeline needs: its declared topics (with their partitions and retention), the
 * dead-letter topic, and one compacted changelog per window transform with as many partitions
 * as its input (partition p of the changelog holds the state of input partition p).
 */
export function pipelineTopics(p: ValidatedPipeline): TopicConfig[] {
  const declared = p.topics.map((t): TopicConfig => {
    const retention =
      t.retention === undefined ? undefined : t.retention === 'forever' ? '-1' : String(durationMs(t.retention));
    return {
      name: t.name,
      partitions: t.partitions ?? 1,
      ...(retention ? { configs: { 'retention.ms': retention } } : {}),
    };
  });
  const changelogs = p.spec.transforms
    .filter((t) => t.kind === 'window')
    .map((t): TopicConfig => ({
      name: changelogTopic(p.spec.name, t.name),
      partitions: p.topics.find((x) => x.name === t.input)?.partitions ?? 1,
      // Compacted: only each partition's latest state is needed; small segments so compaction runs.
      configs: {
        'cleanup.policy': 'compact',
        'segment.bytes': String(16 * 1024 * 1024),
        'min.cleanable.dirty.ratio': '0.1',
      },
    }));
  return [...declared.filter((t) => !p.topics.find((x) => x.name === t.name)?.external), ...changelogs];
}
