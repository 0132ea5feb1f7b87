import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyError, FastifyInstance } from 'fastify';
import { errorCodes, MloopError } from '../core/errors';

interface ErrorBody {
  error: string;
  message: string;
  field?: string;
}

/** Maps the error taxonomy (and Temporal's client errors) to HTTP statuses in one place. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | Error, request, reply) => {
    const { status, body } = describe(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    if (status === 503) void reply.header('retry-after', '1');
    void reply.status(status).send(body);
  });
}

function describe(err: FastifyError | Error): { status: number; body: ErrorBody } {
  if (err instanceof MloopError) {
    const field = typeof err.details.field === 'string' ? err.details.field : undefined;
    return { status: errorCodes[err.code].httpStatus, body: { error: err.code, message: err.message, ...(field ? { field } : {}) } };
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    const first = fe.validation[0];
    const field = first ? fieldOf(fe.validationContext ?? 'body', first.instancePath, first.params) : undefined;
    const message = first && field ? `${field} ${first.message ?? 'is invalid'}` : fe.message;
    return { status: 400, body: { error: 'InvalidInput', message, ...(field ? { field } : {}) } };
  }
  if (err instanceof WorkflowNotFoundError) return { status: 404, body: { error: 'NotFound', message: err.message } };
  if (err instanceof WorkflowExecutionAlreadyStartedError) return { status: 409, body: { error: 'Conflict', message: err.message } };
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
