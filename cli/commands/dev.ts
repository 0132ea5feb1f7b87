import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Command } from 'commander';
import { CliError, exitCodes } from '../exit-codes';

const devScript = path.resolve(import.meta.dirname, '../../scripts/dev.sh');

/** `mloop dev up|down|status`: the shell service manager (scripts/dev.sh) does the work. */
export function registerDev(program: Command): void {
  const dev = program
    .command('dev')
    .description('the local stack: Temporal, Kafka, PostgreSQL, Mosquitto, proxy, worker and API');
  const run = (args: string[]): void => {
    const r = spawnSync('bash', [devScript, ...args], { stdio: 'inherit' });
    if (r.error) throw new CliError(`cannot run ${devScript}: ${r.error.message}`, exitCodes.failed);
    if (r.status !== 0)
      throw new CliError(`mloop dev ${args.join(' ')} failed (exit ${r.status ?? r.signal})`, exitCodes.failed);
  };
  dev
    .command('up')
    .description('start the stack (servers first, then worker and API)')
    .option('--no-app', 'servers only, no worker or API')
    .option('--docker', 'also start a private dockerd')
    .action((opts: { app: boolean; docker?: boolean }) =>
      run(['up', ...(opts.app ? [] : ['--no-app']), ...(opts.docker ? ['--docker'] : [])]),
    );
  dev
    .command('down')
    .description('stop everything this data directory started')
    .action(() => run(['down']));
  dev
    .command('status')
    .description('one line per service')
    .action(() => run(['status']));
}
