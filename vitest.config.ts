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
    // Most files wait on servers and child processes (training, model servers, Kafka), not on
    // this process's CPU; vitest's default of one file per core but one would run them one at a
    // time on a 2-core machine.
    maxWorkers: Number(process.env.MLOOP_TEST_WORKERS ?? 3),
  },
});
