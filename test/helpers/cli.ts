import { execFile } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for messages. */
  out: string;
}

/** Runs `bin/mloop` as a user would, with only the environment given (plus PATH and HOME). */
export function runCli(args: string[], env: Record<string, string>, cwd = root): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      path.join(root, 'bin', 'mloop'),
      args,
      { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, cwd, timeout: 300_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr, out: stdout + stderr });
      },
    );
  });
}
