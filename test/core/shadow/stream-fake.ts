import type { KafkaPort } from '../../../core/kafka/adapter';

/**
 * The parts of a KafkaPort the shadow runner never calls (each throws if it is), for fakes that
 * script only `stream` and `produce`.
 */
export function portTheRunnerDoesNotUse(): Omit<KafkaPort, 'stream' | 'produce'> {
  const unused = (): never => {
    throw new Error('not used by the shadow runner');
  };
  return {
    ensureTopic: unused,
    consume: unused,
    partitionOffsets: unused,
    offsetsAtTimestamp: unused,
    readRanges: unused,
    maxMessageBytes: async () => 1_048_588,
    close: async () => {},
  };
}
