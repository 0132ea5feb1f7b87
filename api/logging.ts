import type { FastifyRequest } from 'fastify';
import type { LoggerOptions } from 'pino';
import { redactSecrets } from '../core/auth/redact';

/**
 * The API's log settings. Requests are logged by method, URL, host and address only (never their
 * headers); the authorization header is redacted wherever an object carrying it gets logged, and
 * tokens or URL credentials inside messages and URLs are hidden.
 */
export function apiLoggerOptions(
  overrides: Partial<LoggerOptions> & { stream?: NodeJS.WritableStream } = {},
): LoggerOptions & {
  stream?: NodeJS.WritableStream;
} {
  return {
    level: 'info',
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'headers.cookie',
        '*.headers.authorization',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req: (req: FastifyRequest) => ({
        method: req.method,
        url: redactSecrets(req.url),
        host: req.host,
        remoteAddress: req.ip,
      }),
      err: (err: Error) => ({
        type: err.name,
        message: redactSecrets(err.message),
        ...(err.stack ? { stack: redactSecrets(err.stack) } : {}),
      }),
    },
    ...overrides,
  };
}
