import fs from 'node:fs/promises';
import path from 'node:path';
import type { PythonRuntime, RunControl } from '../python/runtime';
import type { ModelProcessPaths } from '../python/model-process';
import { parseDriftReport, type DriftReport, type MonitoringOverrides } from './drift-report';

export interface DriftCheckRequest {
  /** The version's reference profile (`reference-profile.json` from training, in the artifact store). */
  profile: string;
  /** The window of production records: `.csv`, `.parquet` or `.jsonl`. */
  current: string;
  /** Where `report.json` and `report.html` go; must not exist or be empty. Written all or nothing. */
  outDir: string;
  /** Settings for this check over the manifest's `monitoring` section. */
  overrides?: MonitoringOverrides;
  /** The window's columns holding the model's outputs (default `prediction`, `probability`). */
  predictionColumn?: string;
  probabilityColumn?: string;
}

export interface DriftCheckResult {
  report: DriftReport;
  reportFile: string;
  htmlFile: string;
}

/**
 * Runs `python -m mloop_runtime drift` (the statistics live in the Python runtime, with numpy and
 * scipy) under the runtime's supervision, and reads its report back with types. Bad input (a
 * missing or corrupt profile, an unreadable window) fails as `DatasetInvalid`; bad overrides
 * are a usage error of the caller.
 */
export class DriftRunner {
  constructor(private readonly python: PythonRuntime) {}

  async check(req: DriftCheckRequest, control: RunControl = {}): Promise<DriftCheckResult> {
    const args = (p: ModelProcessPaths): string[] => [
      ...['drift', '--profile', p.inputs.profile ?? req.profile, '--current', p.inputs.current ?? req.current],
      ...['--out', p.outDir],
      ...(req.overrides !== undefined ? ['--options', JSON.stringify(req.overrides)] : []),
      ...(req.predictionColumn !== undefined ? ['--prediction-column', req.predictionColumn] : []),
      ...(req.probabilityColumn !== undefined ? ['--probability-column', req.probabilityColumn] : []),
    ];
    const inputs = { profile: req.profile, current: req.current };
    const output = { dir: req.outDir, files: (r: Record<string, unknown>) => [r.report, r.html] };
    const result = await this.python.command(path.dirname(req.profile), inputs, args, control, output);
    const reportFile = path.join(req.outDir, fileName(result, 'report'));
    const htmlFile = path.join(req.outDir, fileName(result, 'html'));
    const report = parseDriftReport(JSON.parse(await fs.readFile(reportFile, 'utf8')), reportFile);
    return { report, reportFile, htmlFile };
  }
}

function fileName(result: Record<string, unknown>, key: string): string {
  const value = result[key];
  // A bare name inside the output directory, nothing else.
  if (typeof value !== 'string' || value === '' || value !== path.basename(value) || value.startsWith('.')) {
    throw new Error(`the drift command's result names no valid "${key}" file (got ${JSON.stringify(value)})`);
  }
  return value;
}
