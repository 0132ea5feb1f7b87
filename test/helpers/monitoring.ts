import fs from 'node:fs/promises';
import path from 'node:path';
import { csvColumns, historicalRows } from '../../examples/predictive-maintenance/data/sensors';
import { PythonRuntime } from '../../core/python/runtime';
import { createExampleDataset } from './model-repo';
import { config, tempDir } from './stack';

const exampleModel = path.resolve(import.meta.dirname, '../../examples/predictive-maintenance/model');

export const exampleRuntime = (): PythonRuntime =>
  new PythonRuntime({ python: config.pythonExecutable, runtimeDir: config.runtimeDir });

/** Trains the example model on `rows` historical rows; returns the reference profile it wrote. */
export async function trainExampleProfile(rows = 3000): Promise<string> {
  const dir = await tempDir('profile');
  const outDir = path.join(dir, 'out');
  const dataset = await createExampleDataset(rows);
  await exampleRuntime().train({ modelDir: exampleModel, dataset, outDir, seed: 0, holdoutFraction: 0.2 });
  return path.join(outDir, 'reference-profile.json');
}

/** A window of sensor records like the training data (another seed), with columns shifted by the given amounts. */
export async function writeSensorWindow(
  file: string,
  rows: number,
  seed: number,
  shift: Partial<Record<string, number>> = {},
): Promise<string> {
  const lines = [csvColumns.join(',')];
  for (const r of historicalRows(rows, seed)) {
    const record: Record<string, string | number> = { ...r };
    for (const [column, by] of Object.entries(shift)) record[column] = Number(record[column]) + (by ?? 0);
    lines.push(csvColumns.map((c) => record[c]).join(','));
  }
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, `${lines.join('\n')}\n`);
  return file;
}
