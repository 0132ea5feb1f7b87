import type { Admin, ITopicConfig } from 'kafkajs';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Creates topics (an existing one is fine: two callers at once) and waits until every partition
 * has a leader. kafkajs's own `waitForLeaders` retries only LEADER_NOT_AVAILABLE, but right after
 * a create the broker's metadata may still answer UNKNOWN_TOPIC_OR_PARTITION ("This server does
 * not host this topic-partition"), which it throws: here both mean "not yet".
 */
export async function createTopicsAndWait(admin: Admin, topics: ITopicConfig[], timeoutMs = 30_000): Promise<void> {
  try {
    await admin.createTopics({ waitForLeaders: false, topics });
  } catch (err) {
    if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
  }
  const names = topics.map((t) => t.topic);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics: names });
      const led = found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
      if (found.length === names.length && led) return;
    } catch (err) {
      const type = (err as { type?: string }).type;
      if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw err;
    }
    if (Date.now() > deadline) throw new Error(`topics ${names.join(', ')} have no leaders after ${timeoutMs} ms`);
    await sleep(100);
  }
}
