import { describe, expect, it } from 'vitest';
import { alertsFromFindings } from '../../../core/monitoring/alerts';
import {
  defaultHealthThresholds,
  healthFindings,
  type ServerObservation,
  type TransformObservation,
  type TransformRetry,
} from '../../../core/monitoring/health';

const now = new Date('2026-12-01T12:00:00.000Z');
const ago = (ms: number): string => new Date(now.getTime() - ms).toISOString();
const server = (over: Partial<ServerObservation> = {}): ServerObservation => ({
  name: 'mloop-t.pm.production.v1.r0',
  replica: 0,
  running: true,
  ready: true,
  ...over,
});
const unit = (over: Partial<TransformObservation> = {}): TransformObservation => ({
  pipeline: 'pm-alerts',
  transform: 'score',
  replica: 0,
  state: 'running',
  restarts: 0,
  updatedAt: ago(1000),
  lastError: null,
  lag: 0,
  consumed: 100,
  errors: 0,
  ...over,
});
const types = (servers: ServerObservation[], transforms: TransformObservation[] = []) =>
  healthFindings({ servers, transforms }, now).map((f) => `${f.type}:${f.severity}:${f.subject}`);

describe('healthFindings', () => {
  it('finds nothing when every server answers and every replica reports', () => {
    expect(types([server(), server({ name: 'x.v1.r1', replica: 1 })], [unit()])).toEqual([]);
  });

  it('a server that is not running or not ready is component_down, critical, one finding per server', () => {
    expect(
      types([
        server({ running: false, ready: null }),
        server({ name: 'b', ready: false, detail: 'ready answered 503' }),
      ]),
    ).toEqual(['component_down:critical:server/mloop-t.pm.production.v1.r0', 'component_down:critical:server/b']);
    const [f] = healthFindings(
      { servers: [server({ ready: false, detail: 'ready answered 503' })], transforms: [] },
      now,
    );
    expect(f?.message).toContain('does not answer ready: ready answered 503');
  });

  it('no server at all behind the endpoint is component_down of the servers', () => {
    expect(types([])).toEqual(['component_down:critical:servers']);
  });

  it('a stopped replica is critical, a restarting one a warning, a finished one nothing', () => {
    const got = types(
      [server()],
      [
        unit({ state: 'stopped', restarts: 3, lastError: 'boom' }),
        unit({ replica: 1, state: 'restarting', restarts: 1 }),
        unit({ replica: 2, state: 'finished', updatedAt: ago(3_600_000), lag: 1e9 }),
      ],
    );
    expect(got).toEqual([
      'transform_unhealthy:critical:transform/pm-alerts/score/0',
      'transform_unhealthy:warning:transform/pm-alerts/score/1',
    ]);
  });

  it('silence: at the threshold is healthy, one millisecond past it is not; unreadable times count as silent', () => {
    const limit = defaultHealthThresholds.silentAfterMs;
    expect(types([server()], [unit({ updatedAt: ago(limit) })])).toEqual([]);
    expect(types([server()], [unit({ updatedAt: ago(limit + 1) })])).toEqual([
      'transform_unhealthy:critical:transform/pm-alerts/score/0',
    ]);
    const [f] = healthFindings({ servers: [server()], transforms: [unit({ updatedAt: 'not a time' })] }, now);
    expect(f?.message).toContain('has not reported for an unknown time');
  });

  it('a replica that never reported is judged from its pipeline start, and not at all without one', () => {
    const never = unit({ state: 'starting', updatedAt: null });
    expect(types([server()], [never])).toEqual([]);
    const late = healthFindings(
      { servers: [server()], transforms: [never], pipelineStartedAt: { 'pm-alerts': ago(10 * 60_000) } },
      now,
    );
    expect(late.map((f) => f.message)).toEqual(['pm-alerts/score/0 has not reported for 600 s (starting)']);
  });

  it('lag and error rate alert past their thresholds only; errors with nothing consumed are all failures', () => {
    const t = defaultHealthThresholds;
    expect(types([server()], [unit({ lag: t.maxLag, errors: 5, consumed: 100 })])).toEqual([]);
    expect(types([server()], [unit({ lag: t.maxLag + 1, errors: 6, consumed: 100 })])).toEqual([
      'consumer_lag:warning:transform/pm-alerts/score/0',
      'inference_errors:warning:transform/pm-alerts/score/0',
    ]);
    expect(types([server()], [unit({ errors: 1, consumed: 0 })])).toEqual([
      'inference_errors:warning:transform/pm-alerts/score/0',
    ]);
  });

  it('refuses thresholds that would never or always fire, naming the field', () => {
    const bad = (over: object) => () =>
      healthFindings({ servers: [], transforms: [] }, now, { ...defaultHealthThresholds, ...over });
    expect(bad({ silentAfterMs: 0 })).toThrow(/health\.silentAfterMs/);
    expect(bad({ silentAfterMs: Infinity })).toThrow(/health\.silentAfterMs/);
    expect(bad({ maxLag: NaN })).toThrow(/health\.maxLag/);
    expect(bad({ maxErrorRate: 1 })).toThrow(/health\.maxErrorRate/);
  });

  it('the same finding keeps its dedupe key from check to check; unit names with slashes do not collide', () => {
    const scope = { model: 'pm', environment: 'production', version: 1 };
    const check = (at: string) =>
      alertsFromFindings(
        healthFindings({ servers: [server({ running: false, ready: null })], transforms: [] }, now),
        scope,
        { reportId: `health-${at}`, at },
      ).map((a) => a.dedupeKey);
    expect(check('a')).toEqual(check('b'));
    const a = healthFindings(
      { servers: [server()], transforms: [unit({ pipeline: 'a/b', transform: 'c', state: 'stopped' })] },
      now,
    );
    const b = healthFindings(
      { servers: [server()], transforms: [unit({ pipeline: 'a', transform: 'b/c', state: 'stopped' })] },
      now,
    );
    expect(a[0]?.subject).not.toEqual(b[0]?.subject);
  });

  it('a pipeline that does not answer its status is one critical finding of its own subject', () => {
    const f = healthFindings(
      { servers: [server()], transforms: [], unansweredPipelines: [{ pipeline: 'a/b', detail: 'deadline exceeded' }] },
      now,
    );
    expect(f.map((x) => [x.type, x.severity, x.subject])).toEqual([
      ['transform_unhealthy', 'critical', 'pipeline/a%2Fb'],
    ]);
    expect(f[0]?.message).toContain('pipeline a/b does not answer its status');
  });

  it('a pipeline with no units gives no transform finding, and a server-only check is judged alone', () => {
    expect(types([server()], [])).toEqual([]);
    expect(types([], [])).toEqual(['component_down:critical:servers']);
  });

  describe('a retried activity (the workflow does not know of it yet)', () => {
    const limit = defaultHealthThresholds.silentAfterMs;
    const retry = (over: Partial<TransformRetry> = {}): TransformRetry => ({
      attempt: 2,
      waiting: true,
      since: ago(5_000),
      lastFailure: 'activity Heartbeat timeout',
      heartbeatTimedOut: true,
      ...over,
    });
    const findings = (u: TransformObservation) => healthFindings({ servers: [server()], transforms: [u] }, now);

    it('an attempt waiting after a missed heartbeat has lost its worker: critical, with the failure', () => {
      const [f, ...more] = findings(unit({ retry: retry() }));
      expect(more).toEqual([]);
      expect(f).toMatchObject({
        type: 'transform_unhealthy',
        severity: 'critical',
        subject: 'transform/pm-alerts/score/0',
      });
      expect(f?.message).toBe(
        'pm-alerts/score/0 lost its worker: attempt 2 waits for one for 5 s: activity Heartbeat timeout',
      );
    });

    it('an attempt waiting after another failure, or started again within the threshold, is restarting', () => {
      const waiting = findings(unit({ retry: retry({ heartbeatTimedOut: false, lastFailure: 'broker down' }) }));
      expect(waiting.map((f) => [f.severity, f.message])).toEqual([
        ['warning', 'pm-alerts/score/0 is restarting: attempt 2 waits for 5 s: broker down'],
      ]);
      const started = (ms: number) => findings(unit({ retry: retry({ attempt: 7, waiting: false, since: ago(ms) }) }));
      expect(started(limit).map((f) => f.severity)).toEqual(['warning']);
      expect(started(limit)[0]?.message).toContain('restarted: attempt 7 runs for 90 s');
      // Running again for longer than the threshold: it came back.
      expect(started(limit + 1)).toEqual([]);
      // An unreadable start is not known to have settled.
      expect(findings(unit({ retry: retry({ waiting: false, since: 'not a time' }) })).map((f) => f.severity)).toEqual([
        'warning',
      ]);
    });

    it('a crash loop is an alert at every check, under one dedupe key, while its reports stay fresh', () => {
      const scope = { model: 'pm', environment: 'production', version: 1 };
      // Each attempt reports as it starts and fails soon after: the unit never goes silent.
      const checks = [
        retry({ attempt: 3, heartbeatTimedOut: false, lastFailure: 'model server refused', since: ago(2_000) }),
        retry({ attempt: 4, waiting: false, heartbeatTimedOut: false, since: ago(1_000) }),
        retry({ attempt: 9, heartbeatTimedOut: false, lastFailure: 'model server refused', since: ago(20_000) }),
      ].map((r) =>
        alertsFromFindings(findings(unit({ updatedAt: ago(3_000), restarts: 0, retry: r })), scope, {
          reportId: 'r',
          at: now.toISOString(),
        }).map((a) => a.dedupeKey),
      );
      expect(checks.map((keys) => keys.length)).toEqual([1, 1, 1]);
      expect(new Set(checks.flat()).size).toBe(1);
    });

    it('attempt 1, a finished or stopped unit: the retry adds nothing; with silence it is one critical finding', () => {
      expect(findings(unit({ retry: retry({ attempt: 1 }) }))).toEqual([]);
      expect(findings(unit({ retry: retry({ attempt: NaN }) }))).toEqual([]);
      expect(findings(unit({ state: 'finished', retry: retry() }))).toEqual([]);
      const stopped = findings(unit({ state: 'stopped', restarts: 4, retry: retry() }));
      expect(stopped.map((f) => f.message)).toEqual(['pm-alerts/score/0 stopped after 4 restart(s)']);
      const silent = findings(unit({ updatedAt: ago(limit + 1_000), retry: retry({ since: ago(limit - 20_000) }) }));
      expect(silent.map((f) => [f.severity, f.message])).toEqual([
        [
          'critical',
          'pm-alerts/score/0 has not reported for 91 s (running); ' +
            'lost its worker: attempt 2 waits for one for 70 s: activity Heartbeat timeout',
        ],
      ]);
    });
  });
});
