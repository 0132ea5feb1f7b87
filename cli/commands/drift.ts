import type { Static } from '@sinclair/typebox';
import { Option, type Command } from 'commander';
import type { DriftCheckView, ReportList } from '../../api/schemas/monitoring';
import { emit, type CliContext } from '../context';
import { paths } from '../paths';
import { withJson, type JsonOpts } from './json-option';

type Check = Static<typeof DriftCheckView>;

/** What a check found, in the words a person reads: the verdict first, then why and where. */
function checkText(c: Check): string {
  const verdict =
    c.status === 'drift'
      ? `DRIFT in ${(c.driftedFeatures ?? []).join(', ') || 'the dataset'}`
      : c.status === 'no_drift'
        ? 'no drift'
        : c.status.replace('_', ' ');
  const lines = [`drift check of ${c.model} (${c.environment}${c.version ? ` v${c.version}` : ''}): ${verdict}`];
  if (c.reason) lines.push(`reason     ${c.reason}`);
  if (c.rows !== undefined) lines.push(`rows       ${c.rows}${c.unreadable ? ` (${c.unreadable} unreadable)` : ''}`);
  if (c.alerts?.length) lines.push(`alerts     ${c.alerts.join(', ')}`);
  if (c.retraining)
    lines.push(`retraining ${c.retraining.workflowId}${c.retraining.started ? ' started' : ' (already running)'}`);
  if (c.links) lines.push(`report     ${c.links.report} (${c.links.html})`);
  lines.push(`workflow   ${c.id}`);
  return lines.join('\n');
}

export function registerDrift(program: Command, ctx: CliContext): void {
  const drift = program
    .command('drift')
    .description("drift checks of a deployed model against its version's reference profile");

  withJson(
    drift
      .command('run')
      .description('run a drift check now and print what it found')
      .requiredOption('--model <name>', 'model name')
      .addOption(
        new Option('--env <environment>', 'which deployment').choices(['staging', 'production']).default('production'),
      ),
  ).action(async (opts: JsonOpts & { model: string; env: string }) => {
    const check = await ctx.api().request<Check>('POST', paths.driftChecks(opts.model), { environment: opts.env });
    emit(ctx, opts.json, check, () => checkText(check));
  });

  withJson(
    drift
      .command('reports')
      .description('drift reports of a model, newest first')
      .requiredOption('--model <name>', 'model name'),
  ).action(async (opts: JsonOpts & { model: string }) => {
    const answer = await ctx.api().get<Static<typeof ReportList>>(paths.driftReports(opts.model));
    emit(ctx, opts.json, answer, () =>
      answer.reports.length === 0
        ? `no drift reports for ${opts.model}`
        : answer.reports
            .map((r) =>
              [r.createdAt, `${r.environment} v${r.version}`, r.status.padEnd(17), `rows ${r.rows}`, r.id].join('  '),
            )
            .join('\n'),
    );
  });
}
