import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { config } from './stack';

const historiesDir = path.resolve(import.meta.dirname, '../fixtures/histories');

/**
 * With MLOOP_RECORD_HISTORIES=1, saves the histories of the given workflows as replay fixtures
 * (`fixture name → workflow ID`). Replay needs the ID beside the history, so each file keeps both.
 */
export async function recordHistories(workflows: Record<string, string>): Promise<void> {
  if (process.env.MLOOP_RECORD_HISTORIES !== '1') return;
  await fs.mkdir(historiesDir, { recursive: true });
  for (const [name, workflowId] of Object.entries(workflows)) {
    // The temporal CLI writes the same JSON the Web UI downloads.
    const history = execFileSync(
      process.env.MLOOP_TEMPORAL_BIN ?? path.join(config.cacheDir, 'bin', 'temporal'),
      ['workflow', 'show', '--address', config.temporalAddress, '-w', workflowId, '-o', 'json'],
      { encoding: 'utf8' },
    );
    await fs.writeFile(
      path.join(historiesDir, `${name}.json`),
      `${JSON.stringify({ workflowId, history: JSON.parse(history) as unknown }, null, 1)}\n`,
    );
  }
}
