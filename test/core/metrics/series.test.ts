import { describe, expect, it } from 'vitest';
import {
  recordActivity,
  recordAlert,
  recordDriftCheck,
  recordPipelineRecords,
  recordShadowMessages,
  setPipelineLag,
  setShadowLag,
  workerRegistry,
} from '../../../core/metrics/series';
import { lagOf, shadowProgressMetrics } from '../../../core/metrics/shadow-progress';

/** The value of one sample of the worker registry, or undefined when the series has none. */
async function sample(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = workerRegistry.getSingleMetric(name);
  const values = (await metric?.get())?.values ?? [];
  const found = values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return found?.value;
}

describe('the worker series', () => {
  it('exposes every named series with mloop_ and its unit', async () => {
    const text = await workerRegistry.metrics();
    for (const name of [
      'mloop_activity_duration_seconds histogram',
      'mloop_shadow_messages_total counter',
      'mloop_shadow_lag_messages gauge',
      'mloop_pipeline_records_total counter',
      'mloop_pipeline_lag_messages gauge',
      'mloop_drift_score gauge',
      'mloop_drift_checks_total counter',
      'mloop_alerts_total counter',
    ]) {
      expect(text).toContain(`# TYPE ${name}`);
    }
  });

  it('records what the pipeline and monitoring code feed, with unusual labels kept apart', async () => {
    recordPipelineRecords('pm "alerts"\n', 'windows', 'ok', 3);
    recordPipelineRecords('pm "alerts"\n', 'windows', 'ok', 0);
    recordPipelineRecords('pm "alerts"\n', 'windows', 'dead_letter', 1);
    expect(await sample('mloop_pipeline_records_total', { pipeline: 'pm "alerts"\n', outcome: 'ok' })).toBe(3);
    setPipelineLag('pm', 'windows', 12);
    expect(await sample('mloop_pipeline_lag_messages', { pipeline: 'pm', stage: 'windows' })).toBe(12);
    setPipelineLag('pm', 'windows', null);
    expect(await sample('mloop_pipeline_lag_messages', { pipeline: 'pm', stage: 'windows' })).toBeUndefined();

    recordDriftCheck('pm', 'drift', [
      { feature: 'rpm', statistic: 'psi', score: 0.31 },
      { feature: 'temp', statistic: 'psi', score: Number.POSITIVE_INFINITY },
      { feature: 'empty', statistic: 'ks', score: Number.NaN },
    ]);
    recordDriftCheck('pm', 'no_drift');
    expect(await sample('mloop_drift_score', { model: 'pm', feature: 'rpm', statistic: 'psi' })).toBe(0.31);
    expect(await sample('mloop_drift_score', { model: 'pm', feature: 'temp' })).toBe(Number.POSITIVE_INFINITY);
    expect(await sample('mloop_drift_score', { model: 'pm', feature: 'empty' })).toBeNaN();
    expect(await sample('mloop_drift_checks_total', { model: 'pm', outcome: 'drift' })).toBe(1);
    recordAlert('pm', 'drift', 'warning');
    expect(await sample('mloop_alerts_total', { model: 'pm', kind: 'drift', severity: 'warning' })).toBe(1);
    recordActivity('runTraining', 'q', 'completed', 0);
    const text = await workerRegistry.metrics();
    expect(text).toContain(
      'mloop_activity_duration_seconds_count{activity_type="runTraining",task_queue="q",outcome="completed"} 1',
    );
    expect(text).toContain('pipeline="pm \\"alerts\\"\\n"');
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60])('refuses the count %s, naming the series', (n) => {
    expect(() => recordShadowMessages('pm', n)).toThrow(
      `mloop_shadow_messages_total: expected a whole count ≥ 0, got ${n}`,
    );
    expect(() => recordPipelineRecords('pm', 's', 'ok', n)).toThrow('mloop_pipeline_records_total: ');
    expect(() => setShadowLag('pm', n)).toThrow('mloop_shadow_lag_messages: ');
  });

  it.each([-0.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses the activity duration %s', (s) => {
    expect(() => recordActivity('a', 'q', 'failed', s)).toThrow(
      'mloop_activity_duration_seconds: expected a finite number ≥ 0',
    );
  });
});

describe('shadow throughput and lag from checkpoints', () => {
  const ends = [
    { partition: 0, low: '0', high: '100' },
    { partition: 1, low: '40', high: '50' },
  ];

  it('sums what each partition still has to read; an unread partition counts from its start', () => {
    expect(lagOf(ends, { '0': '90', '1': '45' })).toBe(15);
    expect(lagOf(ends, { '0': '100' })).toBe(10);
    expect(lagOf(ends, { '0': '120', '1': '50' })).toBe(0);
    expect(lagOf([], {})).toBe(0);
    expect(lagOf([{ partition: 0, low: '0', high: '9007199254740993' }], { '0': '1' })).toBe(2 ** 53);
  });

  it('counts only what the attempt applied beyond its starting checkpoint, and drops the lag at the end', async () => {
    let asked = 0;
    const model = `pm-resumed-${Math.random()}`;
    const kafka = {
      partitionOffsets: async () => {
        asked++;
        return ends;
      },
    };
    let clock = 0;
    const m = shadowProgressMetrics({
      model,
      inputTopic: 't',
      kafka,
      startMessages: 500,
      key: model,
      now: () => clock,
    });
    m.checkpoint(500, { '0': '60', '1': '40' });
    await new Promise((r) => setImmediate(r));
    expect(await sample('mloop_shadow_messages_total', { model })).toBeUndefined();
    expect(await sample('mloop_shadow_lag_messages', { model })).toBe(50);
    m.checkpoint(520, { '0': '80', '1': '40' });
    // A checkpoint that reads back lower (it cannot, but a bug elsewhere must not turn into a negative count).
    m.checkpoint(510, { '0': '80', '1': '40' });
    m.checkpoint(530, { '0': '90', '1': '40' });
    expect(await sample('mloop_shadow_messages_total', { model })).toBe(30);
    expect(asked).toBe(1);
    clock = 5_000;
    m.checkpoint(530, { '0': '100', '1': '50' });
    await new Promise((r) => setImmediate(r));
    expect(asked).toBe(2);
    expect(await sample('mloop_shadow_lag_messages', { model })).toBe(0);
    m.end();
    expect(await sample('mloop_shadow_lag_messages', { model })).toBeUndefined();
  });

  it('counts nothing twice when a retry resumes from an older checkpoint beside an attempt still running', async () => {
    const model = `pm-retried-${Math.random()}`;
    const kafka = { partitionOffsets: async () => ends };
    const start = (startMessages: number, key = model) =>
      shadowProgressMetrics({ model, inputTopic: 't', kafka, startMessages, key, lagEveryMs: Infinity });
    const first = start(0);
    first.checkpoint(312, {});
    // Its heartbeat timed out at 100 recorded: the retry starts there while the first goes on.
    const retry = start(100);
    retry.checkpoint(200, {});
    first.checkpoint(320, {});
    retry.checkpoint(330, {});
    expect(await sample('mloop_shadow_messages_total', { model })).toBe(330);
    // Another test of the same model counts on its own.
    const other = start(0, `${model}-other`);
    other.checkpoint(5, {});
    expect(await sample('mloop_shadow_messages_total', { model })).toBe(335);
  });

  it('keeps the last lag when Kafka does not answer, and sets none after the end', async () => {
    const model = `pm-flaky-${Math.random()}`;
    let fail = false;
    let release: () => void = () => undefined;
    const kafka = {
      partitionOffsets: async () => {
        if (fail) throw new Error('broker gone');
        await new Promise<void>((r) => (release = r));
        return ends;
      },
    };
    let clock = 0;
    const m = shadowProgressMetrics({ model, inputTopic: 't', kafka, startMessages: 0, key: model, now: () => clock });
    m.checkpoint(0, {});
    m.end();
    release();
    await new Promise((r) => setImmediate(r));
    // The answer came after the end: no stale lag series is left behind.
    expect(await sample('mloop_shadow_lag_messages', { model })).toBeUndefined();

    const m2 = shadowProgressMetrics({ model, inputTopic: 't', kafka, startMessages: 0, key: model, now: () => clock });
    m2.checkpoint(0, { '0': '100', '1': '45' });
    release();
    await new Promise((r) => setImmediate(r));
    expect(await sample('mloop_shadow_lag_messages', { model })).toBe(5);
    fail = true;
    clock = 10_000;
    m2.checkpoint(0, { '0': '100', '1': '50' });
    await new Promise((r) => setImmediate(r));
    expect(await sample('mloop_shadow_lag_messages', { model })).toBe(5);
    m2.end();
  });
});
