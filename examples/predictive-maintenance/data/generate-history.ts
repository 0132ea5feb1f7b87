/**
 * Writes the example's historical dataset: `tsx generate-history.ts --out FILE [--rows N] [--seed S]`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { historicalRows, toCsv } from './sensors';

export function writeHistory(out: string, rows: number, seed: number): void {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp`;
  fs.writeFileSync(tmp, toCsv(historicalRows(rows, seed)));
  fs.renameSync(tmp, out);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      rows: { type: 'string', default: '5000' },
      seed: { type: 'string', default: '42' },
    },
  });
  if (!values.out) {
    console.error('usage: generate-history.ts --out FILE [--rows N] [--seed S]');
    process.exit(2);
  }
  const rows = Number(values.rows);
  const seed = Number(values.seed);
  if (!Number.isInteger(rows) || rows <= 0) throw new Error(`--rows must be a positive integer (got "${values.rows}")`);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer (got "${values.seed}")`);
  writeHistory(path.resolve(values.out), rows, seed);
  console.log(`wrote ${rows} rows to ${values.out}`);
}
