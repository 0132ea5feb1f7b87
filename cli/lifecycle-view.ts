/** What `GET` of a lifecycle answers, as far as the CLI reads it, and its text forms. */
export interface LifecycleView {
  id: string;
  status: string;
  stage?: string;
  commitSha?: string;
  version?: number;
  error?: string;
  errorType?: string;
  metrics?: Record<string, number | null>;
  progress?: { phase: string; status?: string; rows?: number; epoch?: number };
  shadow?: {
    messages: number;
    deadLettered?: { total: number };
    comparison?: { agreement: number | null };
    candidate?: { failures?: { total?: number } };
  };
  deploy?: {
    environment: string;
    version: number;
    phase: string;
    endpoints?: Record<string, string>;
    approval?: { deadline: string; blockedBy?: string; decision?: { approved: boolean; by: string; at: string } };
    error?: string;
  };
  train?: {
    artifactDigest: string;
    dataset: { uri: string; fingerprint: string };
    rows: { train: number; holdout: number };
    evaluation: { champion: { version: number } | null; gates: Array<{ metric: string; passed: boolean }> };
  };
  links?: { webUi: string };
}

/** Stages a lifecycle ends in when it reached what it was started for. */
const successStages = new Set(['done', 'production', 'staged']);

/** Whether the lifecycle has closed, and if so whether it succeeded and why not. */
export function outcomeOf(v: LifecycleView): { finished: false } | { finished: true; ok: boolean; why?: string } {
  if (v.status === 'RUNNING') return { finished: false };
  if (v.status === 'COMPLETED' && v.stage !== undefined && successStages.has(v.stage))
    return { finished: true, ok: true };
  const why =
    v.error ??
    v.deploy?.error ??
    (v.stage === 'rejected' && v.deploy?.approval?.decision
      ? `promotion rejected by ${v.deploy.approval.decision.by}`
      : undefined) ??
    (v.stage ? `ended in stage "${v.stage}"` : `workflow ${v.status.toLowerCase()}`);
  return { finished: true, ok: false, why };
}

// The runtime's training phases in order (python/mloop_runtime/train_command.py).
const trainPhases = ['load', 'split', 'train', 'evaluate', 'profile', 'save'];

export function bar(fraction: number, width = 24): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.round(f * 100)).padStart(3)}%`;
}

/**
 * The live lines of a running lifecycle, one per aspect (`stage`, `train`, `shadow`, `deploy`,
 * `approval`), so a terminal can redraw them and a log can print the ones that changed.
 * `shadowTarget` is the message count the shadow test stops after, when known.
 */
export function progressLines(v: LifecycleView, shadowTarget?: number): Array<[string, string]> {
  const lines: Array<[string, string]> = [['stage', `${v.id}  ${v.status}  stage: ${v.stage ?? '?'}`]];
  if (v.stage === 'train') {
    const p = v.progress;
    if (!p) lines.push(['train', `train     ${bar(0)} starting`]);
    else {
      const i = trainPhases.indexOf(p.phase);
      const done = i < 0 ? 0 : i + (p.status === 'done' ? 1 : 0);
      const rows = p.rows !== undefined ? `, ${p.rows} rows` : '';
      const epoch = p.epoch !== undefined ? `, epoch ${p.epoch}` : '';
      lines.push([
        'train',
        `train     ${bar(done / trainPhases.length)} ${p.phase} ${p.status ?? ''}${rows}${epoch}`.trimEnd(),
      ]);
    }
  }
  if (v.stage === 'shadow') {
    const s = v.shadow;
    const scored = s?.messages ?? 0;
    const counts = shadowTarget ? `${bar(scored / shadowTarget)} ${scored}/${shadowTarget} scored` : `${scored} scored`;
    const agreement = s?.comparison?.agreement;
    const extra = [
      agreement != null ? `agreement ${agreement.toFixed(3)}` : '',
      s?.deadLettered?.total ? `${s.deadLettered.total} dead-lettered` : '',
    ].filter(Boolean);
    lines.push(['shadow', `shadow    ${counts}${extra.length ? `, ${extra.join(', ')}` : ''}`]);
  }
  const d = v.deploy;
  if (d && (v.stage === 'staging' || v.stage === 'promoting' || v.stage === 'awaiting-approval')) {
    const endpoint =
      d.endpoints?.[d.environment === 'production' && v.stage !== 'promoting' ? 'staging' : d.environment];
    lines.push(['deploy', `deploy    v${d.version} ${d.phase}${endpoint ? ` at ${endpoint}` : ''}`]);
  }
  if (v.stage === 'awaiting-approval') {
    const a = d?.approval;
    const until = a?.deadline ? ` until ${a.deadline}` : '';
    const text = a?.blockedBy
      ? `approval  blocked: ${a.blockedBy}`
      : `approval  waiting${until}: mloop approve ${v.id} [--comment TEXT]  (or mloop reject ${v.id})`;
    lines.push(['approval', text]);
  }
  return lines;
}

/** The full text of a lifecycle, for `status` and the end of `--follow`. */
export function describeLifecycle(v: LifecycleView): string {
  const lines = [`lifecycle  ${v.id}`, `status     ${v.status}${v.stage ? ` (stage: ${v.stage})` : ''}`];
  if (v.commitSha) lines.push(`commit     ${v.commitSha}`);
  if (v.version !== undefined) lines.push(`version    ${v.version}`);
  if (v.train) {
    const { dataset, rows, evaluation } = v.train;
    lines.push(
      `artifact   ${v.train.artifactDigest}`,
      `dataset    ${dataset.uri}`,
      `           ${dataset.fingerprint} (${rows.train} train / ${rows.holdout} holdout rows)`,
    );
    const gates = evaluation.gates.map((g) => `${g.metric} ${g.passed ? 'passed' : 'failed'}`).join(', ') || 'none';
    const against = evaluation.champion ? `champion v${evaluation.champion.version}` : 'no champion yet';
    lines.push(`gates      ${gates}; compared with ${against}`);
  }
  if (v.metrics) {
    const figures = Object.entries(v.metrics).map(([k, x]) => `${k}=${x === null ? 'n/a' : x.toFixed(4)}`);
    lines.push(`metrics    ${figures.join('  ')}`);
  }
  if (v.shadow) lines.push(`shadow     ${v.shadow.messages} messages scored`);
  if (v.deploy) {
    const endpoints = Object.entries(v.deploy.endpoints ?? {}).map(([env, url]) => `${env} ${url}`);
    lines.push(
      `deploy     v${v.deploy.version} ${v.deploy.phase}${endpoints.length ? `; ${endpoints.join(', ')}` : ''}`,
    );
  }
  if (v.error) lines.push(`error      ${v.errorType ? `${v.errorType}: ` : ''}${v.error}`);
  if (v.links?.webUi) lines.push(`web ui     ${v.links.webUi}`);
  return lines.join('\n');
}
