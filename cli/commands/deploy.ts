import { Option, type Command } from 'commander';
import { emit, type CliContext } from '../context';
import { usageError } from '../exit-codes';
import { paths } from '../paths';
import { withJson, type JsonOpts } from './json-option';

interface DeployOpts extends JsonOpts {
  model: string;
  version?: string;
  alias?: string;
  env: string;
  backend?: string;
  key?: string;
}

export function registerDeploy(program: Command, ctx: CliContext): void {
  withJson(
    program
      .command('deploy')
      .description('deploy a version: staging deploys and checks it; production also waits for an approval')
      .requiredOption('--model <name>', 'model name')
      .option('--version <n>', 'the version to deploy')
      .option('--alias <alias>', 'or the version an alias names, e.g. challenger')
      .addOption(new Option('--env <environment>', 'where to').choices(['staging', 'production']).makeOptionMandatory())
      .addOption(new Option('--backend <backend>', 'how model servers run').choices(['process', 'docker']))
      .option('--key <key>', 'idempotency key'),
  ).action(async (opts: DeployOpts) => {
    if ((opts.version === undefined) === (opts.alias === undefined))
      throw usageError('give either --version or --alias');
    const version = opts.version === undefined ? undefined : Number(opts.version);
    if (version !== undefined && !(Number.isInteger(version) && version >= 1)) {
      throw usageError(`--version must be a whole number from 1 (got "${opts.version}")`);
    }
    const started = await ctx.api().request<{ id: string; links: { self: string } }>('POST', paths.deployments, {
      model: opts.model,
      environment: opts.env,
      ...(version !== undefined ? { version } : { alias: opts.alias }),
      ...(opts.backend ? { backend: opts.backend } : {}),
      ...(opts.key ? { key: opts.key } : {}),
    });
    emit(ctx, opts.json, started, () => `started ${started.id}\nstatus  ${started.links.self}`);
  });
}
