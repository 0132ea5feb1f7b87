import { Type, type Static } from '@sinclair/typebox';

/**
 * Alerts of production monitoring. A drift check's findings (python/mloop_runtime/drift_findings.py)
 * and its health findings (core/monitoring/health.ts) arrive with these types and severities; the
 * publisher adds the scope and a dedupe key, so one finding that persists over several checks is
 * published once per dedupe window.
 */
export const alertTypes = [
  /** Features drifted; critical when the dataset drifted (share of drifted features at the threshold). */
  'data_drift',
  /** The model's outputs drifted from its outputs on the training holdout. */
  'prediction_drift',
  /** A feature's share of missing or unusable values rose past the tolerance. */
  'null_spike',
  /** Regression predictions outside the training target's range, past the tolerance. */
  'prediction_out_of_range',
  /** A predicted class's share moved past the tolerance from its share on the holdout. */
  'class_mix_shift',
  /** The model predicted a class it never saw in training. */
  'unknown_class',
  /** The window held too few records for a verdict. */
  'insufficient_data',
  /** A model server of the environment is not running or does not answer ready (core/monitoring/health.ts). */
  'component_down',
  /** A model transform replica of a pipeline scoring with the model stopped, restarts or went silent. */
  'transform_unhealthy',
  /** A model transform replica is further behind its input than the threshold. */
  'consumer_lag',
  /** A model transform replica fails on more of its records than the threshold. */
  'inference_errors',
] as const;
export type AlertType = (typeof alertTypes)[number];

export const alertSeverities = ['info', 'warning', 'critical'] as const;
export type AlertSeverity = (typeof alertSeverities)[number];

export const FindingSchema = Type.Object(
  {
    type: Type.Union(alertTypes.map((t) => Type.Literal(t))),
    severity: Type.Union(alertSeverities.map((s) => Type.Literal(s))),
    /** What the finding is about: a feature or output name, or `features`, `outputs`, `window`. */
    subject: Type.String({ minLength: 1 }),
    message: Type.String(),
    details: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
export type Finding = Static<typeof FindingSchema>;

/** Where a check ran: the model version deployed in an environment. */
export interface AlertScope {
  model: string;
  environment: string;
  version: number;
}

export interface Alert extends Finding, AlertScope {
  /** The drift report the finding comes from, or the health check's id (`health-…`). */
  reportId: string;
  /** ISO-8601 instant of the check. */
  at: string;
  dedupeKey: string;
}

/**
 * The same finding (type and subject) for the same deployed version has the same key in every
 * check, whatever its figures; a new version or another environment starts afresh. Parts are
 * URI-encoded, so a `/` inside a feature name cannot make two findings collide.
 */
export function dedupeKey(scope: AlertScope, finding: Pick<Finding, 'type' | 'subject'>): string {
  const parts = [scope.model, scope.environment, String(scope.version), finding.type, finding.subject];
  return parts.map(encodeURIComponent).join('/');
}

const rank: Record<AlertSeverity, number> = { info: 0, warning: 1, critical: 2 };

export const atLeast = (severity: AlertSeverity, minimum: AlertSeverity): boolean => rank[severity] >= rank[minimum];

/** The alerts of one check's findings, those of at least `minimum` severity, most severe first. */
export function alertsFromFindings(
  findings: readonly Finding[],
  scope: AlertScope,
  check: { reportId: string; at: string },
  minimum: AlertSeverity = 'warning',
): Alert[] {
  return findings
    .filter((f) => atLeast(f.severity, minimum))
    .map((f) => ({ ...f, ...scope, ...check, dedupeKey: dedupeKey(scope, f) }))
    .sort((a, b) => rank[b.severity] - rank[a.severity]);
}
