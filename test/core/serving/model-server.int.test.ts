import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeHistory } from '../../../examples/predictive-maintenance/data/generate-history';
import { featureColumns, historicalRows } from '../../../examples/predictive-maintenance/data/sensors';
import { MloopError } from '../../../core/errors';
import { PythonRuntime } from '../../../core/python/runtime';
import { KServeClient, type FeatureSpec } from '../../../core/serving/kserve-client';
import { startModelServer, type RunningModelServer } from '../../../core/serving/model-server';
import { createExampleDataset } from '../../helpers/model-repo';
import { config, tempDir } from '../../helpers/stack';

const exampleModel = path.resolve(import.meta.dirname, '../../../examples/predictive-maintenance/model');
const features: FeatureSpec[] = featureColumns.map((name) => ({ name, type: 'number' }));

const runningIn = (marker: string): string => {
  try {
    return execFileSync('pgrep', ['-af', marker], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
};

// The runtime's holdout split (python/README.md, "Holdout split"), to score the very rows
// `evaluate` scores.
const mask = (1n << 64n) - 1n;
function splitmix64(x: bigint): bigint {
  let z = (x + 0x9e3779b97f4a7c15n) & mask;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask;
  return z ^ (z >> 31n);
}
function holdoutPositions(rows: number, fraction: number, seed: number): number[] {
  const seedKey = splitmix64(BigInt(seed));
  const keyed = Array.from({ length: rows }, (_, i) => ({ i, key: splitmix64(BigInt(i) ^ seedKey) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i));
  const n = Math.max(1, Math.min(rows - 1, Math.floor(rows * fraction + 0.5)));
  return keyed
    .slice(0, n)
    .map((k) => k.i)
    .sort((a, b) => a - b);
}

/** ROC AUC as the Mann–Whitney statistic, ties counting a half (what scikit-learn computes). */
function rocAuc(labels: number[], scores: number[]): number {
  let wins = 0;
  let pairs = 0;
  labels.forEach((yi, i) => {
    if (yi !== 1) return;
    labels.forEach((yj, j) => {
      if (yj !== 0) return;
      pairs += 1;
      const si = scores[i] ?? NaN;
      const sj = scores[j] ?? NaN;
      wins += si > sj ? 1 : si === sj ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

describe('model server (real Python runtime)', () => {
  const runtime = new PythonRuntime({ python: config.pythonExecutable, runtimeDir: config.runtimeDir });
  let artifact: string;
  let server: RunningModelServer | undefined;

  beforeAll(async () => {
    const outDir = path.join(await tempDir('serve-model'), 'out');
    await runtime.train({
      modelDir: exampleModel,
      dataset: await createExampleDataset(1500, 42),
      outDir,
      seed: 0,
      holdoutFraction: 0.2,
    });
    artifact = path.join(outDir, 'model.joblib');
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('serves a trained artifact: metadata, readiness, and the predictions evaluate scores', async () => {
    server = await startModelServer({
      python: config.pythonExecutable,
      runtimeDir: config.runtimeDir,
      modelDir: exampleModel,
      artifact,
      modelName: 'predictive-maintenance',
      modelVersion: '1',
    });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const client = new KServeClient(server.url, 'predictive-maintenance');
    expect(await client.live()).toBe(true);
    expect(await client.ready()).toBe(true);
    const metadata = await client.metadata();
    expect(metadata.name).toBe('predictive-maintenance');
    expect(metadata.versions).toEqual(['1']);
    expect(metadata.inputs).toEqual(featureColumns.map((name) => ({ name, datatype: 'FP64', shape: [-1] })));
    expect(metadata.outputs.map((o) => o.name)).toEqual(['predictions', 'probabilities']);

    // 100 rows that are also written as a dataset, for `evaluate` to score offline.
    const rows = [...historicalRows(100, 7)];
    const dataset = path.join(await tempDir('serve-rows'), 'rows.csv');
    writeHistory(dataset, 100, 7);
    const result = await client.infer(rows, features);
    expect(result.predictions).toHaveLength(100);
    expect(result.probabilities).toHaveLength(100);
    expect(result.predictions.every((p) => p === 0 || p === 1)).toBe(true);
    expect(result.probabilities?.every((p) => p >= 0 && p <= 1)).toBe(true);
    result.predictions.forEach((p, i) => expect(p, `row ${i}`).toBe((result.probabilities?.[i] ?? NaN) > 0.5 ? 1 : 0));
    expect(result.latencyMs).toBeGreaterThan(0);

    // The served answers give exactly the metrics `evaluate` computes on the same rows.
    const seed = 3;
    const holdout = holdoutPositions(100, 0.5, seed);
    const offline = await runtime.evaluate({ modelDir: exampleModel, artifact, dataset, seed, holdoutFraction: 0.5 });
    expect(offline.holdout.rows).toBe(holdout.length);
    const y = holdout.map((i) => rows[i]?.failure ?? NaN);
    const p = holdout.map((i) => Number(result.predictions[i]));
    const tp = y.filter((yi, k) => yi === 1 && p[k] === 1).length;
    const fp = y.filter((yi, k) => yi === 0 && p[k] === 1).length;
    const fn = y.filter((yi, k) => yi === 1 && p[k] === 0).length;
    const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
    const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
    expect(offline.metrics.accuracy).toBeCloseTo(y.filter((yi, k) => yi === p[k]).length / y.length, 12);
    expect(offline.metrics.precision).toBeCloseTo(precision, 12);
    expect(offline.metrics.recall).toBeCloseTo(recall, 12);
    expect(offline.metrics.f1).toBeCloseTo(
      precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
      12,
    );
    expect(offline.metrics.roc_auc).toBeCloseTo(
      rocAuc(
        y,
        holdout.map((i) => result.probabilities?.[i] ?? NaN),
      ),
      12,
    );

    // A value outside the manifest's range is the request's fault.
    const err = await client.infer([{ ...rows[0], rpm: 99_999 }], features).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MloopError);
    expect((err as MloopError).code).toBe('InvalidInput');
    expect((err as MloopError).message).toContain('rpm');

    await server.stop();
    expect(runningIn(artifact)).toBe('');
    expect(await client.live()).toBe(false);
  });

  it('fails to start, as TrainingFailed with the reason, when the artifact is missing', async () => {
    const missing = path.join(await tempDir('serve-missing'), 'model.joblib');
    const err = await startModelServer({
      python: config.pythonExecutable,
      runtimeDir: config.runtimeDir,
      modelDir: exampleModel,
      artifact: missing,
      modelName: 'pm',
      modelVersion: '1',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MloopError);
    expect((err as MloopError).code).toBe('TrainingFailed');
    expect((err as MloopError).message).toContain(missing);
    expect(runningIn(missing)).toBe('');
  });
});
