import { createTopicsAndWait } from './create-topics';
import { createKafka } from './transactions';

/** A topic to create, with its broker-side settings (e.g. `retention.ms`, `cleanup.policy`). */
export interface TopicConfig {
  name: string;
  partitions: number;
  configs?: Record<string, string>;
}

/**
 * Creates the topics that do not exist yet, with their settings; existing ones are left as
 * they are. Idempotent, so a retried call or a second replica is harmless.
 */
export async function ensureTopics(brokers: string[], topics: TopicConfig[]): Promise<void> {
  const admin = createKafka(brokers, 'mloop-topics').admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length === 0) return;
    await createTopicsAndWait(
      admin,
      missing.map((t) => ({
        topic: t.name,
        numPartitions: t.partitions,
        configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
    );
  } finally {
    await admin.disconnect();
  }
}
