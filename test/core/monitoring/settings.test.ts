import { describe, expect, it } from 'vitest';
import { MloopError } from '../../../core/errors';
import { applyPatch, effectiveSettings } from '../../../core/monitoring/settings';
import { eventTimeOf } from '../../../core/monitoring/live-window';
import { defaultMonitoringSettings } from '../../../workflows/monitoring-definitions';

const refusal = (fn: () => unknown): { field: unknown; message: string } => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MloopError);
    return { field: (err as MloopError).details.field, message: (err as Error).message };
  }
  throw new Error('expected a refusal');
};

describe('monitoring settings', () => {
  it('are the defaults when nothing is stored, with stored fields over them', () => {
    expect(effectiveSettings(null)).toEqual(defaultMonitoringSettings);
    expect(defaultMonitoringSettings).toMatchObject({
      intervalMinutes: 15,
      paused: false,
      retraining: { mode: 'off' },
    });
    expect(effectiveSettings({ intervalMinutes: 5, retraining: { cooldownMinutes: 10 } })).toEqual({
      ...defaultMonitoringSettings,
      intervalMinutes: 5,
      retraining: { mode: 'off', cooldownMinutes: 10 },
    });
  });

  it('a patch changes only what it names; null removes the input or the webhook', () => {
    const input = { topic: 'live', eventTimeField: 'ts' };
    const withInput = applyPatch(defaultMonitoringSettings, {
      input,
      webhook: { url: 'http://127.0.0.1:9/x', secretEnv: 'S' },
    });
    expect(withInput).toEqual({
      ...defaultMonitoringSettings,
      input,
      webhook: { url: 'http://127.0.0.1:9/x', secretEnv: 'S' },
    });
    const without = applyPatch(withInput, { webhook: null, minRows: 1 });
    expect(without).toEqual({ ...defaultMonitoringSettings, input, minRows: 1 });
    expect(applyPatch(without, { input: null })).toEqual({ ...defaultMonitoringSettings, minRows: 1 });
  });

  it.each([
    [{ intervalMinutes: 0 }, 'intervalMinutes'],
    [{ intervalMinutes: Number.NaN }, 'intervalMinutes'],
    [{ intervalMinutes: Number.POSITIVE_INFINITY }, 'intervalMinutes'],
    [{ intervalMinutes: 7 * 24 * 60 + 1 }, 'intervalMinutes'],
    [{ windowMinutes: 0.5 }, 'windowMinutes'],
    [{ minRows: -3 }, 'minRows'],
    [{ dedupeMinutes: 1e12 }, 'dedupeMinutes'],
    [{ retraining: { cooldownMinutes: 0 } }, 'retraining.cooldownMinutes'],
    [{ retraining: { mode: 'on' as const } }, 'retraining.data'],
    [
      { retraining: { mode: 'on' as const, data: { kind: 'topic' as const, topic: 'l', lookbackMinutes: 0 } } },
      'retraining.data.lookbackMinutes',
    ],
    [{ webhook: { url: 'not a url', secretEnv: 'S' } }, 'webhook.url'],
    [{ webhook: { url: 'http://10.0.0.1/x', secretEnv: 'S' } }, 'webhook.url'],
    [{ webhook: { url: 'https://h.example/x', secretEnv: 'lower' } }, 'webhook.secretEnv'],
    [{ input: { topic: '', eventTimeField: 'ts' } }, 'input.topic'],
  ])('refuses %j naming %s', (patch, field) => {
    expect(refusal(() => applyPatch(defaultMonitoringSettings, patch, 'body.')).field).toBe(`body.${field}`);
  });
});

describe('event times', () => {
  it.each([
    ['2026-12-01T10:00:00.000Z', Date.UTC(2026, 11, 1, 10)],
    ['2026-12-01T11:00:00+01:00', Date.UTC(2026, 11, 1, 10)],
    [1764583200000, 1764583200000],
    ['1764583200000', 1764583200000],
    [0, 0],
  ])('reads %j', (value, expected) => {
    expect(eventTimeOf(value)).toBe(expected);
  });

  it.each([
    [null],
    [undefined],
    [''],
    ['  '],
    ['yesterday'],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [true],
    [{}],
    [[1]],
  ])('has none in %j', (value) => {
    expect(eventTimeOf(value)).toBeNaN();
  });
});
