import type { ConsumedRecord, StreamRecord } from '../kafka/adapter';

/**
 * Records that a stage could not use go to the pipeline's dead-letter topic unchanged (key and
 * value as they came), with why and where from in headers, so that none is silently dropped
 * and each can be found and replayed.
 */
export const deadLetterHeaders = {
  reason: 'mloop-reason',
  stage: 'mloop-stage',
  sourceTopic: 'mloop-source-topic',
  sourcePartition: 'mloop-source-partition',
  sourceOffset: 'mloop-source-offset',
} as const;

/** A consumed record that failed in `stage` (a transform or sink name). */
export function deadLetter(record: ConsumedRecord, stage: string, reason: string): StreamRecord {
  return {
    key: record.key,
    value: record.value,
    headers: {
      ...record.headers,
      [deadLetterHeaders.reason]: reason.slice(0, 1000),
      [deadLetterHeaders.stage]: stage,
      [deadLetterHeaders.sourceTopic]: record.topic,
      [deadLetterHeaders.sourcePartition]: String(record.partition),
      [deadLetterHeaders.sourceOffset]: record.offset,
    },
  };
}

/** Input that failed before it reached Kafka (a source's line, message or request). */
export function deadLetterInput(
  value: string,
  key: string | null,
  stage: string,
  reason: string,
  source: string,
): StreamRecord {
  return {
    key,
    value,
    headers: {
      [deadLetterHeaders.reason]: reason.slice(0, 1000),
      [deadLetterHeaders.stage]: stage,
      [deadLetterHeaders.sourceTopic]: source,
    },
  };
}
