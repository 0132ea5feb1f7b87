import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createTopicsAndWait } from '../../../core/kafka/create-topics';

/**
 * An admin whose metadata answers are scripted: the broker's lag right after a create. The real
 * broker is behind every integration test that creates topics (topics.ts, the adapter).
 */
function scriptedAdmin(answers: Array<Error | number>, created: string[][] = []): Admin {
  const protocolError = (type: string): Error => Object.assign(new Error(type), { type });
  return {
    createTopics: async ({ topics }: { topics: Array<{ topic: string }> }) => {
      created.push(topics.map((t) => t.topic));
      return true;
    },
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => {
      const next = answers.shift() ?? 0;
      if (next instanceof Error) throw protocolError(next.message);
      return { topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: next }] })) };
    },
  } as unknown as Admin;
}

describe('creating topics and waiting for their leaders', () => {
  it('waits out "does not host this topic-partition" and a missing leader, then returns', async () => {
    const created: string[][] = [];
    const admin = scriptedAdmin(
      [new Error('UNKNOWN_TOPIC_OR_PARTITION'), new Error('LEADER_NOT_AVAILABLE'), -1, 1],
      created,
    );
    await createTopicsAndWait(admin, [{ topic: 't1', numPartitions: 1 }]);
    expect(created).toEqual([['t1']]);
  });

  it('fails on any other error, and names the topics when leaders never come', async () => {
    await expect(
      createTopicsAndWait(scriptedAdmin([new Error('TOPIC_AUTHORIZATION_FAILED')]), [{ topic: 't2' }]),
    ).rejects.toThrow('TOPIC_AUTHORIZATION_FAILED');
    const never = scriptedAdmin(Array.from({ length: 100 }, () => -1));
    await expect(createTopicsAndWait(never, [{ topic: 't3' }, { topic: 't4' }], 300)).rejects.toThrow(
      'topics t3, t4 have no leaders after 300 ms',
    );
  });
});
