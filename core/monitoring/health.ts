import type { Finding } from './alerts';

/**
 * Component health of what serves a model in one environment: its model servers and the pipeline
 * transforms that score with it. Observations come in (gathered by activities/health.ts), typed
 * findings go out, so the same alert path (severity, dedupe) carries them as drift findings.
 */

/** One model server the environment's endpoint sends traffic to, as its runtime and its ready probe see it. */
export interface ServerObservation {
  name: string;
  replica: number;
  /** The process is alive (process backend) or the container is running (docker backend). */
  running: boolean;
  /** The server answered its ready endpoint; null when it was not asked (it is not running). */
  ready: boolean | null;
  /** Why it is not running or not ready, as the runtime or the probe said. */
  detail?: string;
}

export type TransformUnitState = 'starting' | 'running' | 'restarting' | 'finished' | 'stopped';

/** One replica of a model transform of a running pipeline, from the pipeline's status. */
export interface TransformObservation {
  pipeline: string;
  transform: string;
  replica: number;
  state: TransformUnitState;
  restarts: number;
  /** When the replica last reported; null before its first report. */
  updatedAt: string | null;
  lastError: string | null;
  /** Input records not consumed yet, summed over the partitions the replica owns. */
  lag: number;
  consumed: number;
  errors: number;
  /**
   * Its activity as the Temporal server holds it, when it is being retried: the workflow learns of
   * a failed attempt only once retries run out, so a dead worker or a crash loop shows only here.
   */
  retry?: TransformRetry;
}

/** A unit's activity on its second attempt or later. */
export interface TransformRetry {
  attempt: number;
  /** The attempt is scheduled and no worker runs it yet: it waits for its backoff or for a worker. */
  waiting: boolean;
  /** When the current attempt was scheduled (waiting) or started (running); null when unknown. */
  since: string | null;
  /** The previous attempt's failure as the server recorded it. */
  lastFailure: string | null;
  /** That failure was a missed heartbeat: its worker died or hung. */
  heartbeatTimedOut: boolean;
}

export interface HealthObservation {
  /** The endpoint's serving servers; an empty list means nothing answers the environment. */
  servers: ServerObservation[];
  transforms: TransformObservation[];
  /** When the pipelines were started, to judge a replica that never reported. */
  pipelineStartedAt?: Record<string, string>;
  /** Pipelines started for the model that did not answer their status (no workflow worker, a stuck task). */
  unansweredPipelines?: UnansweredPipeline[];
}

export interface UnansweredPipeline {
  pipeline: string;
  /** What the query got instead of an answer. */
  detail: string;
}

export interface HealthThresholds {
  /** A running replica that has not reported for longer is unhealthy (90 s). */
  silentAfterMs: number;
  /** Lag above this many records is an alert (10 000). */
  maxLag: number;
  /** Share of errors among consumed records above which inference errors are an alert (0.05). */
  maxErrorRate: number;
}

export const defaultHealthThresholds: HealthThresholds = { silentAfterMs: 90_000, maxLag: 10_000, maxErrorRate: 0.05 };

/** Clear errors for thresholds a user set wrong, rather than alerts that never or always fire. */
export function checkHealthThresholds(t: HealthThresholds): HealthThresholds {
  if (!Number.isFinite(t.silentAfterMs) || t.silentAfterMs <= 0)
    throw new RangeError(`health.silentAfterMs: expected a finite number of milliseconds > 0, got ${t.silentAfterMs}`);
  if (!Number.isFinite(t.maxLag) || t.maxLag < 0)
    throw new RangeError(`health.maxLag: expected a finite number of records ≥ 0, got ${t.maxLag}`);
  if (!Number.isFinite(t.maxErrorRate) || t.maxErrorRate < 0 || t.maxErrorRate >= 1)
    throw new RangeError(`health.maxErrorRate: expected a share in [0, 1), got ${t.maxErrorRate}`);
  return t;
}

const unitOf = (t: TransformObservation): string => `${t.pipeline}/${t.transform}/${t.replica}`;
/** Parts encoded, so a `/` inside a name cannot make two replicas share a subject (and a dedupe key). */
const subjectOf = (t: TransformObservation): string =>
  `transform/${[t.pipeline, t.transform, String(t.replica)].map(encodeURIComponent).join('/')}`;

/** The health findings of one observation at instant `now`, most severe first within each component. */
export function healthFindings(
  observed: HealthObservation,
  now: Date,
  thresholds: HealthThresholds = defaultHealthThresholds,
): Finding[] {
  const t = checkHealthThresholds(thresholds);
  const findings: Finding[] = [];
  if (observed.servers.length === 0) {
    findings.push({
      type: 'component_down',
      severity: 'critical',
      subject: 'servers',
      message: 'no model server serves the environment',
      details: {},
    });
  }
  for (const s of observed.servers) {
    if (s.running && s.ready === true) continue;
    const what = s.running ? 'does not answer ready' : 'is not running';
    findings.push({
      type: 'component_down',
      severity: 'critical',
      subject: `server/${s.name}`,
      message: `model server ${s.name} ${what}${s.detail ? `: ${s.detail}` : ''}`,
      details: { server: s.name, replica: s.replica, running: s.running, ready: s.ready },
    });
  }
  for (const p of observed.unansweredPipelines ?? []) {
    findings.push({
      type: 'transform_unhealthy',
      severity: 'critical',
      subject: `pipeline/${encodeURIComponent(p.pipeline)}`,
      message: `pipeline ${p.pipeline} does not answer its status, so its transforms cannot be checked: ${p.detail}`,
      details: { pipeline: p.pipeline },
    });
  }
  for (const u of observed.transforms) findings.push(...transformFindings(u, observed, now, t));
  return findings;
}

function transformFindings(
  u: TransformObservation,
  observed: HealthObservation,
  now: Date,
  t: HealthThresholds,
): Finding[] {
  const subject = subjectOf(u);
  const details = {
    pipeline: u.pipeline,
    transform: u.transform,
    replica: u.replica,
    state: u.state,
    restarts: u.restarts,
    updatedAt: u.updatedAt,
    lastError: u.lastError,
  };
  const out: Finding[] = [];
  const unhealthy = (severity: Finding['severity'], why: string): void => {
    out.push({ type: 'transform_unhealthy', severity, subject, message: `${unitOf(u)} ${why}`, details });
  };
  const error = u.lastError ? `: ${u.lastError}` : '';
  const since = u.updatedAt ?? observed.pipelineStartedAt?.[u.pipeline] ?? null;
  const silentMs = since === null ? null : now.getTime() - Date.parse(since);
  const retrying = u.state !== 'finished' && u.state !== 'stopped' ? retryNote(u.retry, now, t) : null;
  if (u.state === 'stopped') unhealthy('critical', `stopped after ${u.restarts} restart(s)${error}`);
  else if (u.state === 'restarting') unhealthy('warning', `is restarting (${u.restarts} restart(s))${error}`);
  else if (u.state !== 'finished' && silentMs !== null && !(silentMs <= t.silentAfterMs)) {
    // NaN (an unreadable instant) counts as silent: a replica whose last report cannot be read is not known healthy.
    const seconds = Number.isFinite(silentMs) ? `${Math.round(silentMs / 1000)} s` : 'an unknown time';
    unhealthy('critical', `has not reported for ${seconds} (${u.state})${retrying ? `; ${retrying.why}` : ''}`);
  } else if (retrying) unhealthy(retrying.severity, retrying.why);
  if (u.state !== 'finished' && u.state !== 'stopped') {
    if (u.lag > t.maxLag) {
      out.push({
        type: 'consumer_lag',
        severity: 'warning',
        subject,
        message: `${unitOf(u)} is ${u.lag} records behind its input (more than ${t.maxLag})`,
        details: { ...details, lag: u.lag, maxLag: t.maxLag },
      });
    }
    // Errors with nothing consumed are all failures, not a division by zero.
    const rate = u.consumed > 0 ? u.errors / u.consumed : u.errors > 0 ? 1 : 0;
    if (u.errors > 0 && rate > t.maxErrorRate) {
      out.push({
        type: 'inference_errors',
        severity: 'warning',
        subject,
        message: `${unitOf(u)} failed on ${u.errors} of ${u.consumed} records (more than ${t.maxErrorRate * 100} %)`,
        details: { ...details, errors: u.errors, consumed: u.consumed, rate: u.consumed > 0 ? rate : null },
      });
    }
  }
  return out;
}

/**
 * What a retried activity says of its unit: an attempt that waits after a missed heartbeat has
 * lost its worker (critical); one that waits after another failure, or started again within the
 * silence threshold, is restarting (a crash loop is always one or the other). A unit that came
 * back longer ago is healthy again.
 */
function retryNote(
  r: TransformRetry | undefined,
  now: Date,
  t: HealthThresholds,
): { severity: Finding['severity']; why: string } | null {
  if (!r || !(r.attempt > 1)) return null;
  const failure = r.lastFailure ? `: ${r.lastFailure}` : '';
  const forMs = r.since === null ? NaN : now.getTime() - Date.parse(r.since);
  const lasting = Number.isFinite(forMs) ? ` for ${Math.round(Math.max(0, forMs) / 1000)} s` : '';
  if (r.waiting && r.heartbeatTimedOut)
    return { severity: 'critical', why: `lost its worker: attempt ${r.attempt} waits for one${lasting}${failure}` };
  if (r.waiting) return { severity: 'warning', why: `is restarting: attempt ${r.attempt} waits${lasting}${failure}` };
  // An unreadable start counts as recent: a unit not known to have settled is not known healthy.
  if (!(forMs > t.silentAfterMs))
    return { severity: 'warning', why: `restarted: attempt ${r.attempt} runs${lasting}${failure}` };
  return null;
}
