import type { Command } from 'commander';
import { isRole, roles, type Role } from '../../core/auth/roles';
import { addToken } from '../../core/auth/token-file';
import { emit, type CliContext } from '../context';
import { usageError } from '../exit-codes';
import { withJson, type JsonOpts } from './json-option';

const collect = (v: string, all: string[] = []): string[] => [...all, v];

export function registerToken(program: Command, ctx: CliContext): void {
  const token = program.command('token').description("the API's bearer tokens");
  withJson(
    token
      .command('add')
      .description("add a token to the API's token file (the API rereads it); printed once, stored only as its hash")
      .requiredOption('--subject <name>', 'who the token names, in lineage and audit')
      .option('--role <role>', `one of ${roles.join(', ')} (repeatable)`, collect),
  ).action(async (opts: JsonOpts & { subject: string; role?: string[] }) => {
    const role = opts.role ?? [];
    const bad = role.find((r) => !isRole(r));
    if (bad !== undefined || role.length === 0) {
      const got = bad !== undefined ? ` (got "${bad}")` : '';
      throw usageError(`--role must be given at least once, each one of ${roles.join(', ')}${got}`);
    }
    const file = ctx.config().auth.tokensFile;
    const secret = await addToken(file, opts.subject, role as Role[]);
    if (!opts.json)
      console.error(`added a token for "${opts.subject}" (${role.join(', ')}) to ${file}; it is shown only now:`);
    emit(ctx, opts.json, { subject: opts.subject, roles: role, token: secret, file }, () => secret);
  });
}
