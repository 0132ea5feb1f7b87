import { CliError, exitCodes, type ExitCode } from './exit-codes';
import type { CliToken } from './token';

/** The exit code of an API answer that is not a success. */
export function exitCodeOfStatus(status: number): ExitCode {
  if (status === 400 || status === 422) return exitCodes.usage;
  if (status === 401 || status === 403) return exitCodes.authRefused;
  if (status === 404) return exitCodes.notFound;
  return exitCodes.failed;
}

/** An answer of the API that is not a success, with the status and the API's error body. */
export class ApiError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message, exitCodeOfStatus(status));
  }
}

/** A small HTTP client for mloop's API, used by the CLI. */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: CliToken | undefined,
    /** Where a token would be read from, named when the API refuses the request. */
    private readonly tokenHint: string,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.token ? { authorization: `Bearer ${this.token.token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new CliError(
        `cannot reach the mloop API at ${this.baseUrl} (is it running? try "mloop dev up"): ${cause}`,
        exitCodes.unreachable,
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = json as { error?: string; message?: string } | undefined;
      const hint =
        res.status === 401
          ? this.token
            ? ` (the token from ${this.token.source} was refused)`
            : ` (no token: set MLOOP_TOKEN, or put one in ${this.tokenHint}; the API writes it on its first start)`
          : '';
      throw new ApiError(
        `${method} ${path} → ${res.status} ${e?.error ?? ''}: ${e?.message ?? text.slice(0, 500)}${hint}`,
        res.status,
        json,
      );
    }
    return json as T;
  }
}
