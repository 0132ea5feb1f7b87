import { describe, expect, it } from 'vitest';
import { alertsFromFindings, dedupeKey, type Finding } from '../../../core/monitoring/alerts';

const scope = { model: 'pm', environment: 'production', version: 3 };
const check = { reportId: 'drift/pm/production/1', at: '2026-01-01T00:15:00.000Z' };

const finding = (overrides: Partial<Finding> = {}): Finding => ({
  type: 'null_spike',
  severity: 'warning',
  subject: 'rpm',
  message: 'rpm: 40.0% of the values are missing or unusable (training: 0.0%)',
  details: { current_share: 0.4 },
  ...overrides,
});

describe('alerts', () => {
  it('keeps one dedupe key for a finding whatever its figures', () => {
    const first = dedupeKey(scope, finding());
    expect(first).toBe('pm/production/3/null_spike/rpm');
    const worse = finding({ message: 'other figures', details: { current_share: 0.9 }, severity: 'critical' });
    expect(dedupeKey(scope, worse)).toBe(first);
  });

  it('gives another version, environment, type or subject another key', () => {
    const keys = new Set([
      dedupeKey(scope, finding()),
      dedupeKey({ ...scope, version: 4 }, finding()),
      dedupeKey({ ...scope, environment: 'staging' }, finding()),
      dedupeKey(scope, finding({ type: 'data_drift' })),
      dedupeKey(scope, finding({ subject: 'temperature_c' })),
    ]);
    expect(keys.size).toBe(5);
  });

  it('cannot be fooled by separators inside names', () => {
    const a = dedupeKey({ ...scope, environment: 'a/b' }, finding({ subject: 'c' }));
    const b = dedupeKey({ ...scope, environment: 'a' }, finding({ subject: 'b/c' }));
    expect(a).not.toBe(b);
    expect(a).toBe('pm/a%2Fb/3/null_spike/c');
  });

  it('turns findings into alerts of at least a severity, most severe first', () => {
    const findings = [
      finding({ type: 'insufficient_data', severity: 'info', subject: 'window' }),
      finding(),
      finding({ type: 'data_drift', severity: 'critical', subject: 'features' }),
    ];
    const alerts = alertsFromFindings(findings, scope, check);
    expect(alerts.map((a) => [a.type, a.severity])).toEqual([
      ['data_drift', 'critical'],
      ['null_spike', 'warning'],
    ]);
    expect(alerts[0]).toMatchObject({ ...scope, ...check, dedupeKey: 'pm/production/3/data_drift/features' });
    expect(alertsFromFindings(findings, scope, check, 'info')).toHaveLength(3);
    expect(alertsFromFindings(findings, scope, check, 'critical')).toHaveLength(1);
  });
});
