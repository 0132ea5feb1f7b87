import type { Command } from 'commander';
import { emit, type CliContext } from '../context';
import { paths } from '../paths';
import { withJson, type JsonOpts } from './json-option';

interface DecideOpts extends JsonOpts {
  comment?: string;
}

/** `approve` and `reject`: the promotion a lifecycle or a standalone deploy waits for. */
export function registerDecisions(program: Command, ctx: CliContext): void {
  for (const action of ['approve', 'reject'] as const) {
    withJson(
      program
        .command(action)
        .description(`${action} the promotion a lifecycle or deploy waits for (needs the approver role)`)
        .argument('<id>', 'lifecycle/<model>/<key> or deploy/<model>/<env>/<key>')
        .option('--comment <text>', 'why; kept with the decision'),
    ).action(async (id: string, opts: DecideOpts) => {
      const d = await ctx
        .api()
        .request<{ by: string; at: string; approved: boolean }>(
          'POST',
          paths.decision(id, action),
          opts.comment ? { comment: opts.comment } : {},
        );
      emit(ctx, opts.json, d, () => `${d.approved ? 'approved' : 'rejected'} ${id} as ${d.by} at ${d.at}`);
    });
  }
}
