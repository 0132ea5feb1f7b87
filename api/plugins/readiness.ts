import net from 'node:net';
import { Type, type Static } from '@sinclair/typebox';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { Registry } from '../../core/registry/registry';
import { responses } from '../schemas/errors';

/** One dependency the API needs: resolves when it answers, rejects (or never settles) when not. */
export interface ReadinessCheck {
  name: string;
  check(signal: AbortSignal): Promise<void>;
}

export interface ReadinessOptions {
  checks: ReadinessCheck[];
  /** Per check; one that takes longer counts as unreachable. */
  timeoutMs: number;
}

const CheckResult = Type.Object({
  ok: Type.Boolean(),
  ms: Type.Number({ description: 'how long the check took' }),
  reason: Type.Optional(Type.String({ description: 'why it failed: timed out, or the error’s kind' })),
});

const Ready = Type.Object({ ready: Type.Literal(true), checks: Type.Record(Type.String(), CheckResult) });
// The shared error body (code `Unavailable`, the message naming every dependency that did not
// answer) with each check's result beside it.
const NotReady = Type.Intersect([
  Type.Ref('ErrorBody'),
  Type.Object({ checks: Type.Record(Type.String(), CheckResult) }),
]);
type NotReady = { error: 'Unavailable'; message: string; checks: Record<string, Static<typeof CheckResult>> };

/**
 * `/readyz`: every dependency checked at once, each within `timeoutMs`, so the answer never takes
 * longer than that. 200 when all answer; 503 naming those that did not. Public like `/healthz`
 * (probes carry no tokens): the body names dependencies and the kind of failure, never addresses
 * or error texts, which go to the log.
 */
export function registerReadiness(app: FastifyInstance, opts: ReadinessOptions): void {
  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        summary: 'Temporal, Kafka and the registry answer',
        tags: ['health'],
        querystring: Type.Object({}, { additionalProperties: false }),
        response: { ...responses({ 200: Ready }, { public: true }), 503: NotReady },
      },
    },
    async (request, reply) => {
      const results = await Promise.all(opts.checks.map((c) => runCheck(c, opts.timeoutMs)));
      const checks = Object.fromEntries(results.map((r) => [r.name, r.result]));
      const failing = results.filter((r) => !r.result.ok);
      if (failing.length === 0) return { ready: true as const, checks };
      for (const f of failing)
        request.log.warn({ check: f.name, err: f.error }, `readiness: ${f.name} is not reachable`);
      const named = failing.map((f) => `${f.name} (${f.result.reason ?? 'failed'})`).join(', ');
      const body: NotReady = { error: 'Unavailable', message: `not ready: ${named}`, checks };
      return reply.status(503).send(body);
    },
  );
}

async function runCheck(
  c: ReadinessCheck,
  timeoutMs: number,
): Promise<{ name: string; result: Static<typeof CheckResult>; error?: unknown }> {
  const started = performance.now();
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([c.check(abort.signal).then(() => 'ok' as const), timedOut]);
    const ms = Math.round(performance.now() - started);
    if (outcome === 'ok') return { name: c.name, result: { ok: true, ms } };
    abort.abort();
    return { name: c.name, result: { ok: false, ms, reason: `timed out after ${timeoutMs} ms` } };
  } catch (error) {
    const ms = Math.round(performance.now() - started);
    return { name: c.name, result: { ok: false, ms, reason: kindOf(error) }, error };
  } finally {
    clearTimeout(timer);
  }
}

/** The error's code or class, e.g. `ECONNREFUSED` or `ServiceError`: says what failed without saying where. */
function kindOf(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown };
  if (typeof e?.code === 'string' && /^[A-Z_]{2,40}$/.test(e.code)) return e.code;
  if (typeof e?.name === 'string' && /^[A-Za-z]{2,60}$/.test(e.name)) return e.name;
  return 'failed';
}

/** Temporal answers its frontend's system-info call. */
export function temporalCheck(client: Client): ReadinessCheck {
  return {
    name: 'temporal',
    check: (signal) =>
      client.connection.withAbortSignal(signal, () => client.workflowService.getSystemInfo({})).then(() => undefined),
  };
}

/** The registry's database answers a query. */
export function registryCheck(registry: Pick<Registry, 'getAliases'>): ReadinessCheck {
  return { name: 'registry', check: () => registry.getAliases('mloop-readiness-probe').then(() => undefined) };
}

/** Some bootstrap broker accepts a connection (kafkajs would retry for much longer than a probe may take). */
export function kafkaCheck(brokers: readonly string[]): ReadinessCheck {
  return {
    name: 'kafka',
    check: (signal) =>
      Promise.any(brokers.map((b) => connects(b, signal))).catch((err: AggregateError) => {
        throw (err.errors[0] as Error | undefined) ?? new Error('no brokers configured');
      }),
  };
}

function connects(hostPort: string, signal: AbortSignal): Promise<void> {
  const at = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const port = Number(hostPort.slice(at + 1));
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const done = (err?: Error): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = (): void => done(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done());
    socket.once('error', (err) => done(err));
  });
}
