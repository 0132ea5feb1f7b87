import { createHash } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowStartOptions,
} from '@temporalio/client';
import { MloopError } from '../core/errors';
import type * as workflows from '../workflows/index';

type Workflows = typeof workflows;
/** The workflows the worker bundles, by the name Temporal knows them by (their function's name). */
export type WorkflowName = keyof Workflows;

/** What a request that starts something is, for recognising the same request sent again. */
export interface StartRequest {
  /** `POST /v1/lifecycles`: the same key on another route is another request. */
  route: string;
  params?: unknown;
  body: unknown;
}

export interface Started<A> {
  workflowId: string;
  /** The first run of the workflow, the same for every repeat of the request. */
  runId: string;
  /** What the first request answered besides the IDs (kept in the workflow's memo). */
  answer: A;
}

// Memo fields: the request's digest, and what the route answered it.
const digestMemo = 'mloopRequestDigest';
const answerMemo = 'mloopAnswer';

/** SHA-256 of the request as canonical JSON (keys sorted), so the order of fields does not matter. */
export function requestDigest(request: StartRequest): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** How the workflow of an ID was started, from the memo of the first run of its latest chain. */
export interface StartRecord {
  firstRunId: string;
  running: boolean;
  /** The digest of the request that started it; absent when it was not started through the API's keyed path. */
  digest?: string;
  answer?: unknown;
  /** The first run's whole memo, for what a route keeps there besides. */
  memo: Record<string, unknown>;
}

/** The start record of `workflowId`, or undefined when Temporal has no such workflow. */
export async function startRecordOf(client: Client, workflowId: string): Promise<StartRecord | undefined> {
  const notFound = (err: unknown): undefined => {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  };
  const desc = await client.workflow.getHandle(workflowId).describe().catch(notFound);
  if (!desc) return undefined;
  const firstRunId = desc.raw.workflowExecutionInfo?.firstRunId || desc.runId;
  // Continue-as-new does not carry the memo over: the first run of the chain holds what it was started with.
  const memo =
    desc.memo?.[digestMemo] !== undefined || firstRunId === desc.runId
      ? desc.memo
      : (await client.workflow.getHandle(workflowId, firstRunId).describe().catch(notFound))?.memo;
  const digest = memo?.[digestMemo];
  return {
    firstRunId,
    running: desc.status.name === 'RUNNING',
    ...(typeof digest === 'string' ? { digest, answer: memo?.[answerMemo] } : {}),
    memo: memo ?? {},
  };
}

/** The memo that records a start: the request's digest and what the route answered. */
export function startMemo(request: StartRequest, answer?: unknown): Record<string, unknown> {
  return { [digestMemo]: requestDigest(request), ...(answer === undefined ? {} : { [answerMemo]: answer }) };
}

/**
 * The workflow an earlier request with the same ID started, or undefined when there is none.
 * Refuses (IdempotencyKeyReused) when that request was a different one.
 */
export async function findStarted<A>(
  client: Client,
  workflowId: string,
  request: StartRequest,
): Promise<Started<A> | undefined> {
  const record = await startRecordOf(client, workflowId);
  if (!record) return undefined;
  if (record.digest === undefined) {
    throw new MloopError(
      'IdempotencyKeyReused',
      `"${workflowId}" exists, but the request that started it is no longer known; use a new key`,
      { field: 'headers.idempotency-key' },
    );
  }
  if (record.digest !== requestDigest(request)) {
    throw new MloopError(
      'IdempotencyKeyReused',
      `"${workflowId}" was started by a different request; repeat that request exactly, or use a new key`,
      { field: 'headers.idempotency-key' },
    );
  }
  return { workflowId, runId: record.firstRunId, answer: record.answer as A };
}

/**
 * Starts a workflow through its type, once per workflow ID: while the workflow runs and after it
 * closed, the same request gets the workflow the first one started and a different request is
 * refused. Temporal keeps the ID unique, so two copies of a request sent at once start one workflow.
 */
export async function startOnce<K extends WorkflowName, A = undefined>(
  client: Client,
  workflow: K,
  options: WorkflowStartOptions<Workflows[K]>,
  request: StartRequest,
  answer?: A,
): Promise<Started<A>> {
  const memo = { ...options.memo, ...startMemo(request, answer) };
  try {
    await client.workflow.start<Workflows[K]>(workflow, {
      ...options,
      memo,
      workflowIdConflictPolicy: 'USE_EXISTING',
      // A closed workflow's ID is not reused: the request it answered stays answered.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    } as WorkflowStartOptions<Workflows[K]>);
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  const started = await findStarted<A>(client, options.workflowId, request);
  // Only a workflow terminated and deleted in between leaves nothing to describe.
  if (!started) throw new MloopError('Conflict', `"${options.workflowId}" was removed while it was being started`);
  return started;
}
