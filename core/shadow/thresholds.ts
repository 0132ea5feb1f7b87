import { atLeast, atMost } from '../evaluation/compare';
import type { ModelReport, ShadowReport } from './report';

/**
 * Pass/fail of a shadow test from its report. Every failed condition becomes one reason that
 * names the metric and the figures behind it, so a failed stage explains itself. A figure equal
 * to its limit within the tolerance of `../evaluation/compare.ts` is within it, as in the training
 * gates; a run in which no message was scored fails every limit on a rate or a figure per message.
 */

/** A number limits the candidate only; an object limits each model it names. */
export type ModelLimit = number | { candidate?: number; champion?: number };

export interface ShadowThresholds {
  /** Messages that reached the models (dead-lettered ones do not count). */
  minMessages?: number;
  /** Classification: share of messages both models scored on which they agree. */
  minAgreement?: number;
  /** Regression: mean |candidate − champion| over messages both models scored. */
  maxMeanAbsDiff?: number;
  maxFailureRate?: ModelLimit;
  maxP99LatencyMs?: ModelLimit;
  /**
   * How much worse than the champion the candidate may be on a label metric (default accuracy
   * for classification, mae for regression), over at least `minLabelled` (default 1) labelled
   * messages of each. Moot without a champion.
   */
  maxErrorIncrease?: { max: number; metric?: string; minLabelled?: number };
}

export interface ShadowJudgement {
  passed: boolean;
  reasons: string[];
}

const lowerIsBetter = new Set(['mae', 'rmse']);

/**
 * Both figures with the same decimals, `base` or more, enough to tell different ones apart and to
 * show the limit as written.
 */
function figures(a: number, b: number, base = 2): [string, string] {
  if (Number.isInteger(a) && Number.isInteger(b)) return [String(a), String(b)];
  // At least as many decimals as the limit was written with: 0.999 must not print as 1.00.
  let d = Math.max(base, Math.min(6, String(b).split('.')[1]?.length ?? 0));
  while (d < 12 && a !== b && a.toFixed(d) === b.toFixed(d)) d++;
  return [a.toFixed(d), b.toFixed(d)];
}

const limitFor = (limit: ModelLimit | undefined, role: 'candidate' | 'champion'): number | undefined =>
  typeof limit === 'number' ? (role === 'candidate' ? limit : undefined) : limit?.[role];

const failureBreakdown = (m: ModelReport): string =>
  Object.entries(m.failures)
    .sort(([, a], [, b]) => b - a)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');

function judgeModel(
  role: 'candidate' | 'champion',
  m: ModelReport | null,
  t: ShadowThresholds,
  reasons: string[],
): void {
  const maxFailureRate = limitFor(t.maxFailureRate, role);
  if (maxFailureRate !== undefined && m && m.failureRate !== null && !atMost(m.failureRate, maxFailureRate)) {
    const [rate, max] = figures(m.failureRate, maxFailureRate, 3);
    reasons.push(
      `${role} failure rate ${rate} is above the maximum ${max} ` +
        `(${m.failed} of ${m.attempts} messages: ${failureBreakdown(m)})`,
    );
  }
  const maxP99 = limitFor(t.maxP99LatencyMs, role);
  if (maxP99 === undefined || !m) return;
  if (m.latencyMs.p99 === null) reasons.push(`${role} p99 latency cannot be judged: the ${role} scored no message`);
  else if (!atMost(m.latencyMs.p99, maxP99)) {
    const [p99, max] = figures(m.latencyMs.p99, maxP99, 1);
    reasons.push(`${role} p99 latency ${p99} ms is above the maximum ${max} ms (${m.scored} scored messages)`);
  }
}

function judgeErrorIncrease(
  report: ShadowReport,
  rule: NonNullable<ShadowThresholds['maxErrorIncrease']>,
  reasons: string[],
): void {
  const champion = report.champion;
  if (!champion) return;
  const metric = rule.metric ?? (report.task === 'classification' ? 'accuracy' : 'mae');
  const minLabelled = rule.minLabelled ?? 1;
  const candidate = report.candidate;
  if (!(metric in candidate.metrics)) {
    reasons.push(
      `${metric} is not a label metric of ${report.task} (they are ${Object.keys(candidate.metrics).join(', ')})`,
    );
    return;
  }
  const labelled = Math.min(candidate.labelled, champion.labelled);
  const c = candidate.metrics[metric] ?? null;
  const ch = champion.metrics[metric] ?? null;
  if (labelled < minLabelled) {
    reasons.push(
      `${metric} cannot be compared: ${candidate.labelled} candidate and ${champion.labelled} champion ` +
        `messages were labelled, fewer than the ${minLabelled} required`,
    );
    return;
  }
  // A figure beyond the double range (a diverging model) or one not measured can never pass.
  if (typeof c !== 'number' || typeof ch !== 'number') {
    const what = (
      [
        ['candidate', c],
        ['champion', ch],
      ] as const
    )
      .filter(([, v]) => typeof v !== 'number')
      .map(([role, v]) => `${role} ${metric} is ${v === null ? 'not measured' : `${v}, not a finite number`}`);
    reasons.push(`${metric} cannot be compared: ${what.join(' and ')} (${labelled} labelled messages)`);
    return;
  }
  const increase = lowerIsBetter.has(metric) ? c - ch : ch - c;
  if (Number.isNaN(increase)) {
    reasons.push(`${metric} cannot be compared: candidate ${c} and champion ${ch} have no finite difference`);
  } else if (!atMost(increase, rule.max, c, ch)) {
    const [cs, chs] = figures(c, ch, 3);
    const [inc, max] = figures(increase, rule.max, 3);
    const worse = lowerIsBetter.has(metric) ? 'above' : 'below';
    reasons.push(
      `candidate ${metric} ${cs} is ${inc} ${worse} the champion's ${chs}, ` +
        `more than the allowed ${max} (${labelled} labelled messages)`,
    );
  }
}

/**
 * With no message scored there is no rate to judge, and a missing figure must not pass: each
 * limit that fits the task fails, whether or not a champion was configured.
 */
function judgeEmptyRun(report: ShadowReport, t: ShadowThresholds, reasons: string[]): void {
  const classification = report.task === 'classification';
  const limits: Array<[keyof ShadowThresholds, boolean]> = [
    ['minAgreement', classification],
    ['maxMeanAbsDiff', !classification],
    ['maxFailureRate', true],
    ['maxP99LatencyMs', true],
    ['maxErrorIncrease', true],
  ];
  const dead = report.deadLettered.total > 0 ? ` (${report.deadLettered.total} were dead-lettered)` : '';
  for (const [name, fits] of limits) {
    if (fits && t[name] !== undefined) reasons.push(`${name} cannot be judged: no messages scored${dead}`);
  }
}

export function judgeShadow(report: ShadowReport, t: ShadowThresholds): ShadowJudgement {
  const reasons: string[] = [];
  const reached = report.candidate.attempts;
  if (t.minMessages !== undefined && reached < t.minMessages) {
    const dead = report.deadLettered.total > 0 ? `; ${report.deadLettered.total} more were dead-lettered` : '';
    reasons.push(`messages ${reached} is below the minimum ${t.minMessages} (messages that reached the models${dead})`);
  }
  // A limit that cannot apply to this task must not pass silently.
  if (t.minAgreement !== undefined && report.task !== 'classification')
    reasons.push(`minAgreement applies to classification, but this is a ${report.task} test (use maxMeanAbsDiff)`);
  if (t.maxMeanAbsDiff !== undefined && report.task !== 'regression')
    reasons.push(`maxMeanAbsDiff applies to regression, but this is a ${report.task} test (use minAgreement)`);
  if (reached === 0) {
    judgeEmptyRun(report, t, reasons);
    return { passed: reasons.length === 0, reasons };
  }
  // Comparisons with the champion are moot without one, as in the training gates.
  const cmp = report.comparison;
  if (report.champion && t.minAgreement !== undefined && report.task === 'classification') {
    if (cmp.agreement === null || cmp.agreeing === null)
      reasons.push('agreement cannot be judged: no message was scored by both models');
    else if (!atLeast(cmp.agreement, t.minAgreement)) {
      const [a, min] = figures(cmp.agreement, t.minAgreement, 2);
      reasons.push(`agreement ${a} is below the minimum ${min} (${cmp.agreeing} of ${cmp.messages} messages)`);
    }
  }
  if (report.champion && t.maxMeanAbsDiff !== undefined && report.task === 'regression') {
    if (cmp.meanAbsDiff === null)
      reasons.push('mean absolute difference cannot be judged: no message was scored by both models');
    else if (typeof cmp.meanAbsDiff !== 'number') {
      reasons.push(
        `mean absolute difference is ${cmp.meanAbsDiff}, not a finite number ` +
          `(over ${cmp.messages} messages both models scored)`,
      );
    } else if (Number.isNaN(cmp.meanAbsDiff)) reasons.push('mean absolute difference cannot be judged: it is NaN');
    else if (!atMost(cmp.meanAbsDiff, t.maxMeanAbsDiff)) {
      const [d, max] = figures(cmp.meanAbsDiff, t.maxMeanAbsDiff, 3);
      reasons.push(
        `mean absolute difference ${d} is above the maximum ${max} (over ${cmp.messages} messages both models scored)`,
      );
    }
  }
  judgeModel('candidate', report.candidate, t, reasons);
  judgeModel('champion', report.champion, t, reasons);
  if (t.maxErrorIncrease) judgeErrorIncrease(report, t.maxErrorIncrease, reasons);
  return { passed: reasons.length === 0, reasons };
}
