import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { errorCodes, type ErrorCode } from '../../core/errors';

const codes = Object.keys(errorCodes) as ErrorCode[];

/** Every error answer of the API: a stable code from the catalog (core/errors.ts) and one line. */
export const ErrorBody = Type.Object(
  {
    error: Type.Unsafe<ErrorCode>({ type: 'string', enum: codes, description: 'Stable error code (see the catalog)' }),
    message: Type.String({ description: 'One line naming the problem; for 5xx answers a generic line only' }),
    field: Type.Optional(Type.String({ description: 'The request field at fault, e.g. body.repo.url' })),
    requestId: Type.Optional(Type.String({ description: 'Names the request in the API log (5xx answers)' })),
  },
  { $id: 'ErrorBody', title: 'ErrorBody' },
);
export type ErrorBody = Static<typeof ErrorBody>;

const errorRef = Type.Ref('ErrorBody');

/** What every route may answer whatever it does: the host check, the token check and internal errors. */
const alwaysPossible = [421, 500, 503] as const;
const withToken = [401, 403] as const;

/**
 * A route's response schemas: its own answers plus the error statuses it can return. Routes with
 * input add 400; routes behind a token add 401 and 403; every route may answer 421, 500 and 503.
 */
export function responses(
  ok: Record<number, TSchema>,
  opts: { errors?: readonly number[]; input?: boolean; public?: boolean } = {},
): Record<number, TSchema> {
  const statuses = new Set<number>([
    ...(opts.input === false ? [] : [400]),
    ...(opts.public ? [] : withToken),
    ...alwaysPossible,
    ...(opts.errors ?? []),
  ]);
  const out: Record<number, TSchema> = { ...ok };
  for (const s of [...statuses].sort()) out[s] = errorRef;
  return out;
}

/** The Idempotency-Key request header of every route that starts something. */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9._-]{1,64}$',
      description:
        'Repeating a request with the same key returns the first answer without starting anything again; ' +
        'the same key with a different body is refused (422 IdempotencyKeyReused)',
    }),
  ),
});
