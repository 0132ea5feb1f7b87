import type { CliToken } from './token';

/** A small HTTP client for mloop's API, used by the CLI. */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: CliToken | undefined,
    /** Where a token would be read from, named when the API refuses the request. */
    private readonly tokenHint: string,
  ) {}

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
      });
    } catch (err) {
      throw new Error(
        `cannot reach the mloop API at ${this.baseUrl} (is it running? try "mloop dev up"): ${(err as Error).message}`,
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
      throw new Error(
        `${method} ${path} → ${res.status} ${e?.error ?? ''}: ${e?.message ?? text.slice(0, 500)}${hint}`,
      );
    }
    return json as T;
  }
}
