import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // Integration tests share one Temporal server and one Kafka broker; each test names its own
    // task queue, topics and workflow IDs, so files can still run in parallel.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
