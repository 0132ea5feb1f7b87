/**
 * What a token may do. Roles are independent: a token has each one it needs, none implies another
 * (an approver who should also read status holds `viewer` as well).
 *   viewer    reads: lifecycles, models, versions, runs, history
 *   operator  changes: starts and aborts lifecycles, moves aliases, deploys
 *   approver  approves promotions to production
 */
export const roles = ['viewer', 'operator', 'approver'] as const;
export type Role = (typeof roles)[number];

export const isRole = (value: unknown): value is Role =>
  typeof value === 'string' && (roles as readonly string[]).includes(value);

/** Who a request comes from: the subject its token names, recorded in lineage, and what it may do. */
export interface Principal {
  readonly subject: string;
  readonly roles: readonly Role[];
}

export const subjectPattern = /^[A-Za-z0-9@._-]{1,128}$/;
