import { Option, type Command } from 'commander';

/** Every command takes `--json` for scripts: the API's answer as JSON on stdout instead of text. */
export function withJson(cmd: Command): Command {
  return cmd.addOption(new Option('--json', 'print the result as JSON (for scripts)'));
}

export interface JsonOpts {
  json?: boolean;
}
