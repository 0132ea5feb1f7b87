/**
 * The mloop command line's commands. `mloop --help` lists them, `mloop <command> --help` their
 * options; every command takes `--json`. Exit codes are in exit-codes.ts (and the help).
 */
import { Command, CommanderError } from 'commander';
import { createContext, type CliContext } from './context';
import { CliError, exitCodeHelp, exitCodes } from './exit-codes';
import { registerDecisions } from './commands/decide';
import { registerDeploy } from './commands/deploy';
import { registerDev } from './commands/dev';
import { registerDrift } from './commands/drift';
import { registerLifecycle, registerStatus } from './commands/lifecycle';
import { registerModels } from './commands/models';
import { registerPipelines } from './commands/pipelines';
import { registerRollback } from './commands/rollback';
import { registerToken } from './commands/token';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('mloop')
    .description('mloop: train, shadow-test, deploy and monitor models through durable lifecycles')
    // Errors are thrown, not exited on, so that main() chooses the exit code.
    .exitOverride()
    .showSuggestionAfterError()
    .addHelpText(
      'after',
      [
        '',
        'The CLI talks to the API at MLOOP_API_URL (default http://127.0.0.1:$MLOOP_API_PORT) and sends MLOOP_TOKEN,',
        'or the token the API wrote on its first start to $MLOOP_DATA/auth/cli-token.',
        '',
        exitCodeHelp,
      ].join('\n'),
    );
  registerDev(program);
  registerLifecycle(program, ctx);
  registerStatus(program, ctx);
  registerDecisions(program, ctx);
  registerModels(program, ctx);
  registerDeploy(program, ctx);
  registerRollback(program, ctx);
  registerPipelines(program, ctx);
  registerDrift(program, ctx);
  registerToken(program, ctx);
  return program;
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], ctx: CliContext = createContext()): Promise<number> {
  const program = buildProgram(ctx);
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return exitCodes.usage;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCodes.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed the message or the help already.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version'
        ? exitCodes.ok
        : exitCodes.usage;
    }
    if (err instanceof CliError) {
      console.error(`mloop: ${err.message}`);
      return err.exitCode;
    }
    console.error(`mloop: ${(err as Error).message ?? String(err)}`);
    return exitCodes.failed;
  }
}
