import { execFileSync } from 'node:child_process';

/** Command lines of the running processes that mention `marker` (a path), or '' when none. */
export function processesMentioning(marker: string): string {
  try {
    return execFileSync('pgrep', ['-af', marker], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}
