/**
 * One registry writer in its own process, for the concurrent-writers test: it opens the SQLite
 * file, waits for the go file, performs its writes and prints a JSON summary of what failed.
 * Usage: tsx writer-process.ts <registry.db> <go-file> <register|alias> <name> <count>
 */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from '../../../core/registry/registry';
import { newVersion } from '../../helpers/registry';

const [file, goFile, mode, name, countText] = process.argv.slice(2);
if (!file || !goFile || (mode !== 'register' && mode !== 'alias') || !name || !countText) {
  throw new Error('usage: writer-process.ts <registry.db> <go-file> <register|alias> <name> <count>');
}
const count = Number(countText);
const registry = await Registry.openSqlite(file);
process.stdout.write('ready\n');
while (!fs.existsSync(goFile)) await sleep(5);

const failures: string[] = [];
for (let i = 0; i < count; i++) {
  try {
    // The two writers move the alias in opposite directions, so most moves change it.
    const version = 1 + ((i + Number(name === 'b')) % 2);
    if (mode === 'register') await registry.registerVersion(newVersion('pm', `${name}-${i}`));
    else await registry.setAlias({ model: 'pm', alias: 'champion', version, by: name });
  } catch (err) {
    failures.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  }
}
await registry.close();
const summary = { name, mode, count, failures: failures.length, first: failures[0] ?? null };
process.stdout.write(`${JSON.stringify(summary)}\n`);
