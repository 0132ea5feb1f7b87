import type { Command } from 'commander';
import { emit, type CliContext } from '../context';
import { paths } from '../paths';
import { withJson, type JsonOpts } from './json-option';

export function registerRollback(program: Command, ctx: CliContext): void {
  withJson(
    program
      .command('rollback')
      .description('production back to the previous champion, through a blue/green deploy (needs the approver role)')
      .requiredOption('--model <name>', 'model name')
      .requiredOption('--reason <text>', 'why; kept in the alias history'),
  ).action(async (opts: JsonOpts & { model: string; reason: string }) => {
    const r = await ctx
      .api()
      .request<{ id: string; from: number; to: number }>('POST', paths.rollback(opts.model), { reason: opts.reason });
    emit(ctx, opts.json, r, () => `rolling ${opts.model} back from v${r.from} to v${r.to}: ${r.id}`);
  });
}
