/**
 * The one error taxonomy of mloop. Domain code throws `MloopError`s; the activity layer turns
 * them into Temporal `ApplicationFailure`s with the same `type`, and the API maps the same codes to
 * HTTP statuses. Business failures are not retryable; transient ones are plain `Error`s.
 */
export const errorCodes = {
  InvalidInput: { retryable: false, httpStatus: 400 },
  InvalidModelRepo: { retryable: false, httpStatus: 422 },
  InvalidManifest: { retryable: false, httpStatus: 422 },
  DatasetInvalid: { retryable: false, httpStatus: 422 },
  TrainingFailed: { retryable: false, httpStatus: 422 },
  EvaluationFailed: { retryable: false, httpStatus: 422 },
  ShadowTestFailed: { retryable: false, httpStatus: 422 },
  // A model server that does not start, answer its health check or pass its smoke inference.
  DeploymentFailed: { retryable: false, httpStatus: 422 },
  Unauthorized: { retryable: false, httpStatus: 401 },
  Forbidden: { retryable: false, httpStatus: 403 },
  NotFound: { retryable: false, httpStatus: 404 },
  Conflict: { retryable: false, httpStatus: 409 },
  MisdirectedRequest: { retryable: false, httpStatus: 421 },
  ToolchainMissing: { retryable: false, httpStatus: 500 },
  // A shared resource (the registry's write lock) stayed busy past its wait: try again shortly.
  Unavailable: { retryable: true, httpStatus: 503 },
} as const;

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
