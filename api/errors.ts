import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import type { FastifyError, FastifyInstance } from 'fastify';
import { redactSecrets } from '../core/auth/redact';
import { errorCodes, MloopError, type ErrorCode } from '../core/errors';
import type { ErrorBody } from './schemas/errors';

/** One line of a message, secrets hidden: answers name the problem, they never carry a traceback. */
export function oneLine(message: string, max = 500): string {
  const line = message.split('\n').find((l) => l.trim() !== '') ?? '';
  const short = line.length > max ? `${line.slice(0, max)}…` : line;
  return redactSecrets(short.trim());
}

// What a client reads of a server-side failure: the code and the request to look up in the log.
const hiddenMessages: Partial<Record<ErrorCode, string>> = {
  Unavailable: 'the API is busy; try again shortly',
  ToolchainMissing: 'the server lacks a tool it needs',
};

/**
 * Maps the error taxonomy, Temporal's client errors and Fastify's own to HTTP answers in one place.
 * Answers of 5xx carry the code and the request ID only; the message and stack go to the log.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | Error, request, reply) => {
    const { code, message, field } = describe(err);
    const status = errorCodes[code].httpStatus;
    let body: ErrorBody = { error: code, message: oneLine(message), ...(field ? { field } : {}) };
    if (status >= 500) {
      request.log.error({ err, code }, 'request failed');
      const shown = hiddenMessages[code] ?? 'internal error';
      body = {
        error: code,
        message: `${shown} (request ${request.id}; the API log has the details)`,
        requestId: request.id,
      };
    }
    if (status === 503) void reply.header('retry-after', '1');
    if (status === 401 || status === 403) {
      const challenge = err instanceof MloopError ? err.details.challenge : undefined;
      void reply.header(
        'www-authenticate',
        `Bearer realm="mloop"${typeof challenge === 'string' ? `, ${challenge}` : ''}`,
      );
    }
    void reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = {
      error: 'NotFound',
      message: oneLine(`no route ${request.method} ${request.url.slice(0, 200)}`),
    };
    void reply.status(404).send(body);
  });
}

interface Described {
  code: ErrorCode;
  message: string;
  field?: string;
}

/** The catalog's code for one of Fastify's own 4xx errors (a body it cannot parse or take, a file not found…). */
function codeOfStatus(status: number): ErrorCode {
  const codes = Object.keys(errorCodes) as ErrorCode[];
  return codes.find((c) => errorCodes[c].httpStatus === status) ?? 'InvalidInput';
}

export function describe(err: FastifyError | Error): Described {
  if (err instanceof MloopError) {
    const field = typeof err.details.field === 'string' ? err.details.field : undefined;
    return { code: err.code, message: err.message, ...(field ? { field } : {}) };
  }
  if (err instanceof WorkflowNotFoundError) return { code: 'NotFound', message: `no workflow "${err.workflowId}"` };
  if (err instanceof WorkflowExecutionAlreadyStartedError)
    return { code: 'Conflict', message: `workflow "${err.workflowId}" was already started` };
  // An Update's validator refused: its message says why (already decided, nothing waiting…).
  if (err instanceof WorkflowUpdateFailedError) return { code: 'Conflict', message: err.cause?.message ?? err.message };
  const fe = err as FastifyError;
  if (fe.validation) {
    const first = fe.validation[0];
    const field = first ? fieldOf(fe.validationContext ?? 'body', first.instancePath, first.params) : undefined;
    const message = first && field ? `${field} ${first.message ?? 'is invalid'}` : fe.message;
    return { code: 'InvalidInput', message, ...(field ? { field } : {}) };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { code: codeOfStatus(fe.statusCode), message: fe.message };
  }
  return { code: 'Internal', message: err.message };
}

/** `body.repo.url` from an ajv error, including the property a `required` error names. */
function fieldOf(context: string, instancePath: string, params: Record<string, unknown>): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (typeof params.missingProperty === 'string') parts.push(params.missingProperty);
  if (typeof params.additionalProperty === 'string') parts.push(params.additionalProperty);
  return [context, ...parts].join('.');
}
