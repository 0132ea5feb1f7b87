/** One stage of the loop: what it did, or why it failed. */
export interface StageOutcome {
  stage: string;
  ok: boolean;
  outcome: string;
  seconds: number;
}

/** The closing table: one line per stage, its outcome and duration; stages not reached say so. */
export function formatSummary(done: readonly StageOutcome[], planned: readonly string[]): string {
  const width = Math.max(...planned.map((s) => s.length), ...done.map((d) => d.stage.length));
  const lines = done.map(
    (d) => `  ${d.ok ? 'ok  ' : 'FAIL'} ${d.stage.padEnd(width)}  ${d.outcome}  (${d.seconds.toFixed(0)} s)`,
  );
  for (const stage of planned.filter((s) => !done.some((d) => d.stage === s)))
    lines.push(`  --   ${stage.padEnd(width)}  not reached`);
  return lines.join('\n');
}

/** A lifecycle key of its own per run (`demo-20261201t231500z`), so a second run starts afresh. */
export const runKey = (now: Date): string =>
  `demo-${now
    .toISOString()
    .replace(/[-:]|\.\d+/g, '')
    .toLowerCase()}`;
