/** What a stream of requests saw: how many were sent, failed, and answered by which version. */
export interface LoadReport {
  sent: number;
  failed: number;
  failures: string[];
  byVersion: Record<string, number>;
}

const describe = (err: unknown): string => {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as (Error & { code?: string }) | undefined;
  return cause ? `${err.message}: ${cause.code ?? ''} ${cause.message}`.trim() : err.message;
};

/**
 * Sends requests one after another from `workers` loops until `stop()` is called (or after
 * `maxRequests`), counting failures: a network error, a non-2xx status, or a body without a
 * `model_version`.
 */
export function continuousRequests(
  send: () => Promise<Response>,
  opts: { workers?: number; maxRequests?: number } = {},
): { stop: () => Promise<LoadReport>; report: LoadReport } {
  const report: LoadReport = { sent: 0, failed: 0, failures: [], byVersion: {} };
  let stopped = false;
  const max = opts.maxRequests ?? 200_000;
  const loop = async (): Promise<void> => {
    while (!stopped && report.sent < max) {
      report.sent += 1;
      try {
        const res = await send();
        const text = await res.text();
        const version = res.ok ? (JSON.parse(text) as { model_version?: string }).model_version : undefined;
        if (version === undefined) throw new Error(`${res.status} ${text.slice(0, 200)}`);
        report.byVersion[version] = (report.byVersion[version] ?? 0) + 1;
      } catch (err) {
        report.failed += 1;
        if (report.failures.length < 10) report.failures.push(describe(err));
      }
    }
  };
  const loops = Array.from({ length: opts.workers ?? 4 }, () => loop());
  return {
    report,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return report;
    },
  };
}
