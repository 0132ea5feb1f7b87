import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyError, FastifyInstance } from 'fastify';
import { redactSecrets } from '../core/auth/redact';
import { errorCodes, MloopError } from '../core/errors';

interface ErrorBody {
  error: string;
  message: string;
  field?: string;
}

/** One line of a message, secrets hidden: answers name the problem, they never carry a traceback. */
export function oneLine(message: string, max = 500): string {
  const line = message.split('\n').find((l) => l.trim() !== '') ?? '';
  const short = line.length > max ? `${line.slice(0, max)}…` : line;
  return redactSecrets(short.trim());
}

/** Maps the error taxonomy (and Temporal's client errors) to HTTP statuses in one place. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | Error, request, reply) => {
    const { status, body } = describe(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    if (status === 503) void reply.header('retry-after', '1');
    if (status === 401 || status === 403) {
      const challenge = err instanceof MloopError ? err.details.challenge : undefined;
      void reply.header(
        'www-authenticate',
        `Bearer realm="mloop"${typeof challenge === 'string' ? `, ${challenge}` : ''}`,
      );
    }
    void reply.status(status).send({ ...body, message: oneLine(body.message) });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .status(404)
      .send({ error: 'NotFound', message: oneLine(`no route ${request.method} ${request.url.slice(0, 200)}`) });
  });
}

function describe(err: FastifyError | Error): { status: number; body: ErrorBody } {
  if (err instanceof MloopError) {
    const field = typeof err.details.field === 'string' ? err.details.field : undefined;
    return {
      status: errorCodes[err.code].httpStatus,
      body: { error: err.code, message: err.message, ...(field ? { field } : {}) },
    };
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    const first = fe.validation[0];
    const field = first ? fieldOf(fe.validationContext ?? 'body', first.instancePath, first.params) : undefined;
    const message = first && field ? `${field} ${first.message ?? 'is invalid'}` : fe.message;
    return { status: 400, body: { error: 'InvalidInput', message, ...(field ? { field } : {}) } };
  }
  if (err instanceof WorkflowNotFoundError) return { status: 404, body: { error: 'NotFound', message: err.message } };
  if (err instanceof WorkflowExecutionAlreadyStartedError)
    return { status: 409, body: { error: 'Conflict', message: err.message } };
  if (typeof fe.statusCode === 'number' && fe.statusCode < 500) {
    return { status: fe.statusCode, body: { error: fe.code ?? 'BadRequest', message: fe.message } };
  }
  return { status: 500, body: { error: 'Internal', message: 'internal error' } };
}

/** `body.repo.url` from an ajv error, including the property a `required` error names. */
function fieldOf(context: string, instancePath: string, params: Record<string, unknown>): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (typeof params.missingProperty === 'string') parts.push(params.missingProperty);
  if (typeof params.additionalProperty === 'string') parts.push(params.additionalProperty);
  return [context, ...parts].join('.');
}
