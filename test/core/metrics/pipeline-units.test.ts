import { describe, expect, it } from 'vitest';
import { PipelineUnitFigures } from '../../../core/metrics/pipeline-units';
import { workerRegistry } from '../../../core/metrics/series';

async function sample(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const values = (await workerRegistry.getSingleMetric(name)?.get())?.values ?? [];
  return values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

const partition = (lag: number | null) => ({ partition: 0, committed: '0', highWatermark: '0', lag });

describe('pipeline series from the units’ cumulative counters', () => {
  it('counts only what this process did: resumed totals are the baseline, repeated totals count nothing', async () => {
    const figures = new PipelineUnitFigures();
    const labels = { pipeline: 'pu-1', stage: 'transform:score' };
    // A unit resumed at 1000 produced and 5 dead letters: nothing counted yet.
    figures.note('pu-1', 'transform/score/0', labels.stage, {
      counts: { produced: 1000, deadLettered: 5 },
      partitions: [partition(7), partition(3)],
    });
    expect(await sample('mloop_pipeline_records_total', { ...labels, outcome: 'ok' })).toBeUndefined();
    expect(await sample('mloop_pipeline_lag_messages', labels)).toBe(10);
    figures.note('pu-1', 'transform/score/0', labels.stage, {
      counts: { produced: 1250, deadLettered: 6 },
      partitions: [partition(0), partition(null)],
    });
    // A retry reporting older totals (its checkpoint) again counts nothing, and never negative.
    figures.note('pu-1', 'transform/score/0', labels.stage, { counts: { produced: 1100 }, partitions: [] });
    figures.note('pu-1', 'transform/score/0', labels.stage, { counts: { produced: 1250 }, partitions: [] });
    expect(await sample('mloop_pipeline_records_total', { ...labels, outcome: 'ok' })).toBe(250);
    expect(await sample('mloop_pipeline_records_total', { ...labels, outcome: 'dead_letter' })).toBe(1);
    expect(await sample('mloop_pipeline_lag_messages', labels)).toBe(0);
    figures.stopped('pu-1', labels.stage);
    expect(await sample('mloop_pipeline_lag_messages', labels)).toBeUndefined();
  });

  it('keeps replicas apart and ignores counters that are not finite', async () => {
    const figures = new PipelineUnitFigures();
    const stage = 'transform:features';
    for (const key of ['transform/features/0', 'transform/features/1']) {
      figures.note('pu-2', key, stage, { counts: { produced: 0, filtered: Number.NaN }, partitions: [] });
      figures.note('pu-2', key, stage, { counts: { produced: 40, filtered: Infinity }, partitions: [] });
    }
    expect(await sample('mloop_pipeline_records_total', { pipeline: 'pu-2', stage, outcome: 'ok' })).toBe(80);
    expect(
      await sample('mloop_pipeline_records_total', { pipeline: 'pu-2', stage, outcome: 'filtered' }),
    ).toBeUndefined();
  });
});
