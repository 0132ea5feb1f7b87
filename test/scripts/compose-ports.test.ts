import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const composeText = readFileSync(path.resolve(import.meta.dirname, '../../docker-compose.yml'), 'utf8');

/** Compose's `${VAR:-default}` and `${VAR}` interpolation, enough for the port lists. */
const interpolate = (text: string, env: Record<string, string>): string =>
  text.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_m, name: string, fallback?: string) =>
    env[name] ? env[name] : (fallback ?? ''),
  );

/** Each published port as [host address, host port]; no address means every interface. */
function published(env: Record<string, string>): Record<string, Array<[string, string]>> {
  const compose = parse(interpolate(composeText, env)) as { services: Record<string, { ports?: string[] }> };
  return Object.fromEntries(
    Object.entries(compose.services).map(([name, service]) => [
      name,
      (service.ports ?? []).map((p): [string, string] => {
        const parts = String(p).split(':');
        return parts.length === 3 ? [parts[0] ?? '', parts[1] ?? ''] : ['0.0.0.0', parts[0] ?? ''];
      }),
    ]),
  );
}

describe('docker-compose.yml publishes ports safely', () => {
  it('binds Temporal (gRPC and Web UI) to 127.0.0.1 by default; only the API is on every interface', () => {
    const ports = published({});
    expect(ports.temporal).toEqual([
      ['127.0.0.1', '7233'],
      ['127.0.0.1', '8233'],
    ]);
    for (const [service, list] of Object.entries(ports)) {
      if (service === 'api') continue;
      for (const [address] of list) expect(address, `${service} publishes on ${address}`).toBe('127.0.0.1');
    }
    expect(ports.api).toEqual([['0.0.0.0', '8080']]);
  });

  it('publishes Temporal elsewhere only when configured to', () => {
    expect(published({ MLOOP_TEMPORAL_BIND: '10.0.0.5' }).temporal?.map(([a]) => a)).toEqual(['10.0.0.5', '10.0.0.5']);
    expect(published({ MLOOP_API_BIND: '127.0.0.1' }).api).toEqual([['127.0.0.1', '8080']]);
  });
});
