import fs from 'node:fs/promises';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowsPath } from '../../workers/create-workers';

const dir = path.resolve(import.meta.dirname, '../fixtures/histories');

/**
 * Recorded histories of earlier versions must replay on today's workflow code; a change that
 * breaks determinism without `patched()` fails here. Record new ones with
 * `MLOOP_RECORD_HISTORIES=1 npx vitest run test/api/lifecycles.int.test.ts`.
 */
describe('replay of recorded histories', async () => {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.json')).sort();

  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
  });

  it.each(files)('replays %s', async (file) => {
    const fixture = JSON.parse(await fs.readFile(path.join(dir, file), 'utf8')) as {
      workflowId: string;
      history: unknown;
    };
    await Worker.runReplayHistory({ workflowsPath }, fixture.history, fixture.workflowId);
  });
});
