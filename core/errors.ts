/**
 * The one error taxonomy of mloop. Domain code throws `MloopError`s; the activity layer turns
 * them into Temporal `ApplicationFailure`s with the same `type`, and the API maps the same codes to
 * HTTP statuses. Business failures are not retryable; transient ones are plain `Error`s.
 */
export const errorCodes = {
  InvalidInput: {
    retryable: false,
    httpStatus: 400,
    description: 'A field of the request is malformed or out of range; `field` names it.',
  },
  InvalidModelRepo: {
    retryable: false,
    httpStatus: 422,
    description: 'The model repository cannot be cloned or lacks what a model needs.',
  },
  InvalidManifest: { retryable: false, httpStatus: 422, description: "The repository's mloop.yaml is invalid." },
  DatasetInvalid: {
    retryable: false,
    httpStatus: 422,
    description: 'The dataset cannot be read or does not fit the manifest.',
  },
  TrainingFailed: { retryable: false, httpStatus: 422, description: "The model's training code failed." },
  EvaluationFailed: {
    retryable: false,
    httpStatus: 422,
    description: 'The candidate could not be scored on the holdout.',
  },
  ShadowTestFailed: {
    retryable: false,
    httpStatus: 422,
    description: 'The shadow test could not run or did not pass.',
  },
  // A model server that does not start, answer its health check or pass its smoke inference.
  DeploymentFailed: {
    retryable: false,
    httpStatus: 422,
    description: 'A model server did not start, get ready or answer its smoke inference.',
  },
  IdempotencyKeyReused: {
    retryable: false,
    httpStatus: 422,
    description: 'The Idempotency-Key was used before for a different request (another body or route).',
  },
  Unauthorized: {
    retryable: false,
    httpStatus: 401,
    description: 'No bearer token, or one that is malformed, unknown or revoked.',
  },
  Forbidden: { retryable: false, httpStatus: 403, description: "The token's subject lacks the role the route needs." },
  NotFound: {
    retryable: false,
    httpStatus: 404,
    description: 'No such route, model, version, alias, run, lifecycle or deploy.',
  },
  Conflict: {
    retryable: false,
    httpStatus: 409,
    description: 'The resource is not in a state that allows this (already running, closed, decided, nothing waiting).',
  },
  PayloadTooLarge: {
    retryable: false,
    httpStatus: 413,
    description: 'The request body is larger than the API accepts.',
  },
  UnsupportedMediaType: {
    retryable: false,
    httpStatus: 415,
    description: 'The body is not JSON (send content-type: application/json).',
  },
  MisdirectedRequest: { retryable: false, httpStatus: 421, description: 'The Host header is not a name of this API.' },
  ToolchainMissing: {
    retryable: false,
    httpStatus: 500,
    description: 'A tool the server needs (Python, git, docker) is missing.',
  },
  Internal: {
    retryable: false,
    httpStatus: 500,
    description: "An unexpected error; the API log has it under the answer's requestId.",
  },
  // A shared resource (the registry's write lock) stayed busy past its wait: try again shortly.
  Unavailable: {
    retryable: true,
    httpStatus: 503,
    description: 'A shared resource stayed busy; retry after the Retry-After header.',
  },
} as const satisfies Record<string, { retryable: boolean; httpStatus: number; description: string }>;

export type ErrorCode = keyof typeof errorCodes;

export class MloopError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = code;
    this.code = code;
    this.details = details;
  }

  get retryable(): boolean {
    return errorCodes[this.code].retryable;
  }
}

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.hasOwn(errorCodes, value);

export const invalidInput = (field: string, reason: string): MloopError =>
  new MloopError('InvalidInput', `${field}: ${reason}`, { field });
