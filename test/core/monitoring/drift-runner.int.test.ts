import fs from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MloopError } from '../../../core/errors';
import { DriftRunner } from '../../../core/monitoring/drift-runner';
import { parseDriftReport } from '../../../core/monitoring/drift-report';
import { exampleRuntime, trainExampleProfile, writeSensorWindow } from '../../helpers/monitoring';
import { tempDir } from '../../helpers/stack';

describe('drift runner (real Python runtime)', () => {
  const runner = new DriftRunner(exampleRuntime());
  let profile: string;
  let dir: string;
  beforeAll(async () => {
    profile = await trainExampleProfile(3000);
    dir = await tempDir('drift-runner');
  });

  it('finds no drift in data like the training data', async () => {
    const current = await writeSensorWindow(path.join(dir, 'same.csv'), 2000, 7);
    const { report, htmlFile } = await runner.check({ profile, current, outDir: path.join(dir, 'same') });
    expect(report.status).toBe('no_drift');
    expect(report.features.map((f) => [f.name, f.status, f.test])).toEqual([
      ['temperature_c', 'no_drift', 'wasserstein'],
      ['vibration_mm_s', 'no_drift', 'wasserstein'],
      ['pressure_bar', 'no_drift', 'wasserstein'],
      ['rpm', 'no_drift', 'wasserstein'],
      ['operating_hours', 'no_drift', 'wasserstein'],
    ]);
    // The window holds no model outputs: they are named missing, not guessed.
    expect(report.outputs.map((o) => [o.name, o.status])).toEqual([
      ['prediction', 'missing_column'],
      ['probability', 'missing_column'],
    ]);
    expect(report.findings).toEqual([]);
    expect(report.window.rows).toBe(2000);
    expect((await fs.stat(htmlFile)).size).toBeGreaterThan(1000);
  });

  it('reports drift on exactly the shifted features, with one data_drift finding', async () => {
    const current = await writeSensorWindow(path.join(dir, 'shifted.csv'), 2000, 8, { temperature_c: 15, rpm: 400 });
    const { report } = await runner.check({ profile, current, outDir: path.join(dir, 'shifted') });
    expect(report.features.filter((f) => f.drift).map((f) => f.name)).toEqual(['temperature_c', 'rpm']);
    expect(report.dataset_drift).toMatchObject({
      status: 'no_drift',
      drift: false,
      drifted_features: 2,
      tested_features: 5,
      share: 0.4,
    });
    const findings = report.findings.map((f) => [f.type, f.severity, f.subject]);
    expect(findings).toEqual([['data_drift', 'warning', 'features']]);
    const temperature = report.features[0];
    expect(temperature?.score).toBeGreaterThan(temperature?.threshold ?? Infinity);
  });

  it('applies overrides for one check', async () => {
    const current = await writeSensorWindow(path.join(dir, 'override.csv'), 2000, 9, { temperature_c: 15, rpm: 400 });
    const { report } = await runner.check({
      profile,
      current,
      outDir: path.join(dir, 'override'),
      overrides: { drift_share: 0.4, features: { rpm: { test: 'psi', threshold: 0.2 } } },
    });
    expect(report.status).toBe('drift');
    expect(report.features[3]).toMatchObject({ name: 'rpm', test: 'psi', threshold: 0.2 });
    expect(report.options.drift_share).toBe(0.4);
    expect(report.findings[0]).toMatchObject({ type: 'data_drift', severity: 'critical' });
  });

  it('fails with DatasetInvalid naming a missing profile or an unreadable window', async () => {
    const current = await writeSensorWindow(path.join(dir, 'any.csv'), 50, 1);
    const missing = runner.check({ profile: path.join(dir, 'none.json'), current, outDir: path.join(dir, 'x') });
    await expect(missing).rejects.toThrow(MloopError);
    const message = `${path.join(dir, 'none.json')}: reference profile not found`;
    await expect(missing).rejects.toMatchObject({ code: 'DatasetInvalid', message });
    const text = path.join(dir, 'window.txt');
    await fs.writeFile(text, 'a,b\n');
    const unreadable = runner.check({ profile, current: text, outDir: path.join(dir, 'y') });
    await expect(unreadable).rejects.toMatchObject({ code: 'DatasetInvalid' });
    await expect(fs.stat(path.join(dir, 'x'))).rejects.toThrow();
  });

  it('refuses overrides the runtime does not accept, naming the field', async () => {
    const current = await writeSensorWindow(path.join(dir, 'bad-options.csv'), 50, 1);
    const bad = { features: { nope: { test: 'ks' as const } } };
    await expect(runner.check({ profile, current, outDir: path.join(dir, 'z'), overrides: bad })).rejects.toThrow(
      "--options: field 'monitoring.features.nope': not one of the columns",
    );
  });

  it('parses only reports it understands', () => {
    expect(() => parseDriftReport({ format: 'mloop.drift-report/2' }, 'r.json')).toThrow(
      'r.json: not a drift report this engine understands: format "mloop.drift-report/2", ' +
        'expected "mloop.drift-report/1"',
    );
  });
});
