/**
 * One processor replica in a process of its own, so a test can SIGKILL it like a crashed
 * worker. Reads the validated pipeline from MLOOP_TEST_PIPELINE and prints each checkpoint as
 * a JSON line.
 */
import { runProcessor } from '../../../core/pipeline/processor';
import type { ValidatedPipeline } from '../../../core/pipeline/validate';

const pipeline = JSON.parse(process.env.MLOOP_TEST_PIPELINE ?? '') as ValidatedPipeline;
const controller = new AbortController();
process.once('SIGTERM', () => controller.abort());
await runProcessor({
  brokers: (process.env.MLOOP_TEST_BROKERS ?? '').split(','),
  pipeline,
  transform: process.env.MLOOP_TEST_TRANSFORM ?? '',
  replica: 1,
  signal: controller.signal,
  sessionTimeoutMs: 6000,
  checkpointIntervalMs: 200,
  onCheckpoint: (c) => console.log(JSON.stringify(c)),
});
