/** A small HTTP client for mloop's API, used by the CLI. */
export class ApiClient {
  constructor(private readonly baseUrl: string) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), 'x-mloop-user': process.env.USER ?? 'cli' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new Error(`cannot reach the mloop API at ${this.baseUrl} (is it running? try "mloop dev up"): ${(err as Error).message}`);
    }
    const text = await res.text();
    const json = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const e = json as { error?: string; message?: string } | undefined;
      throw new Error(`${method} ${path} → ${res.status} ${e?.error ?? ''}: ${e?.message ?? text}`);
    }
    return json as T;
  }
}
