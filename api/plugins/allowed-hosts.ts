import type { FastifyInstance } from 'fastify';
import { loopbackHosts } from '../../core/config';
import { MloopError } from '../../core/errors';

interface HostName {
  name: string;
  port?: string;
}

/** `name[:port]` of a Host header or an allowed entry, lowercased; undefined when malformed. */
export function parseHost(value: string): HostName | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::([0-9]{1,5}))?$/.exec(value);
  if (!m?.[1]) return undefined;
  return { name: m[1].toLowerCase(), ...(m[2] !== undefined ? { port: m[2] } : {}) };
}

/**
 * Whether a Host header names this API. A page on another site that rebinds its DNS name to
 * 127.0.0.1 still sends its own name, so requests with names the API was not told about are
 * refused. Entries without a port allow any port.
 */
export function hostAllowed(header: string | undefined, allowed: readonly HostName[]): boolean {
  const host = header === undefined ? undefined : parseHost(header);
  if (!host) return false;
  return allowed.some((a) => a.name === host.name && (a.port === undefined || a.port === host.port));
}

/** Refuses (421) every request whose Host is not one of `allowed` (default: the loopback names). */
export function registerAllowedHosts(app: FastifyInstance, allowed: readonly string[] = loopbackHosts): void {
  const parsed = allowed.map((h) => {
    const p = parseHost(h);
    if (!p) throw new Error(`allowed host "${h}" is not a host name, an IP address or [IPv6], with an optional :port`);
    return p;
  });
  const names = [...new Set(parsed.map((p) => p.name))].join(', ');
  app.addHook('onRequest', async (request) => {
    const header = request.headers.host;
    if (hostAllowed(header, parsed)) return;
    const shown = header === undefined ? 'no Host header' : `Host ${JSON.stringify(header.slice(0, 100))}`;
    throw new MloopError(
      'MisdirectedRequest',
      `${shown} is not a name of this API (allowed: ${names}; MLOOP_API_ALLOWED_HOSTS adds names)`,
    );
  });
}
