/**
 * What the CLI's exit status means, so scripts can tell a failed lifecycle from a typo or a
 * stopped server. Listed in `mloop --help` and the README.
 */
export const exitCodes = {
  ok: 0,
  /** The lifecycle or operation failed, was aborted or refused (e.g. a conflict). */
  failed: 1,
  /** Bad arguments, a bad request file, or a request the API refused as invalid (400). */
  usage: 2,
  notFound: 3,
  /** The API refused the token (401) or its roles (403). */
  authRefused: 4,
  /** The API could not be reached. */
  unreachable: 5,
} as const;
export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

export const exitCodeHelp = [
  'Exit codes:',
  '  0  ok (a followed lifecycle completed)',
  '  1  the lifecycle or operation failed, was aborted, or was refused (e.g. 409)',
  '  2  usage error: bad arguments or request file, or a request the API found invalid (400)',
  '  3  not found (404)',
  '  4  authentication or authorization refused (401, 403)',
  '  5  the API could not be reached',
].join('\n');

/** An error whose message is for the user and whose exit code says what kind it is. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}

export const usageError = (message: string): CliError => new CliError(message, exitCodes.usage);
