import { randomUUID } from 'node:crypto';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { validateRepoSource } from '../../core/git/repo-source';
import { checkLocalSources } from '../../core/security/allowed-roots';
import { invalidInput, MloopError } from '../../core/errors';
import {
  abortSignal,
  lifecycleWorkflowId,
  searchAttributes,
  statusQuery,
  taskQueues,
  type LifecycleInput,
  type LifecycleResult,
  type LifecycleStatus,
} from '../../workflows/definitions';
import { failureView } from '../failure-view';
import { requesterOf } from '../plugins/auth';
import { decidePromotion } from '../promotion-decision';
import { DecisionBody, DecisionView } from '../schemas/deployments';
import { IdempotencyHeaders, responses } from '../schemas/errors';
import {
  AbortedView,
  AbortLifecycleBody,
  LifecycleParams,
  LifecycleStartedView,
  LifecycleView,
  StartLifecycleBody,
} from '../schemas/lifecycle';
import { startOnce } from '../start-workflow';

export interface LifecycleRouteOptions {
  namespace: string;
  webUiUrl: string;
  /** Queue overrides, so tests can route to their own workers. */
  controlTaskQueue?: string;
  trainTaskQueue?: string;
  streamTaskQueue?: string;
  /** Folders local repositories and datasets must be in; the configured ones by default. */
  allowedRoots?: string[];
}

/** The API path of a lifecycle: `/v1/lifecycles/<model>/<key>`. */
export const lifecyclePath = (model: string, key: string): string =>
  `/v1/lifecycles/${encodeURIComponent(model)}/${encodeURIComponent(key)}`;

const tags = ['lifecycles'];

/** Lifecycles as resources: `/v1/lifecycles/:model/:key`, with their abort and promotion decisions. */
export function lifecycleRoutes(opts: LifecycleRouteOptions) {
  return async (app: FastifyInstance): Promise<void> => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();
    const namespaceUrl = `${opts.webUiUrl}/namespaces/${encodeURIComponent(opts.namespace)}`;
    const webUiLink = (id: string, runId: string): string =>
      `${namespaceUrl}/workflows/${encodeURIComponent(id)}/${runId}/history`;

    r.post(
      '/v1/lifecycles',
      {
        config: { role: 'operator' },
        schema: {
          summary: 'Start a lifecycle: train, then optionally shadow-test and deploy',
          tags,
          headers: IdempotencyHeaders,
          body: StartLifecycleBody,
          response: responses({ 202: LifecycleStartedView }, { errors: [404, 409, 422] }),
        },
      },
      async (request, reply) => {
        const { key: bodyKey, ...body } = request.body;
        const headerKey = request.headers['idempotency-key'];
        if (bodyKey !== undefined && headerKey !== undefined && bodyKey !== headerKey) {
          throw invalidInput(
            'headers.idempotency-key',
            `differs from body.key ("${bodyKey}"); send one of them, or both equal`,
          );
        }
        const repo = validateRepoSource({ url: body.repo.url, ref: body.repo.ref, path: body.repo.path });
        if ('path' in body.dataset && !body.dataset.path.startsWith('/')) {
          throw invalidInput('dataset.path', `must be an absolute path (got "${body.dataset.path}")`);
        }
        await checkLocalSources(
          { repoUrl: repo.url, datasetPath: 'path' in body.dataset ? body.dataset.path : undefined },
          opts.allowedRoots,
        );
        const input: LifecycleInput = {
          model: body.model,
          repo: { url: repo.url, ref: repo.ref, path: repo.path ?? '' },
          dataset: 'path' in body.dataset ? { path: body.dataset.path } : { kafka: body.dataset.kafka },
          params: body.params ?? {},
          ...(body.holdout ? { holdout: body.holdout } : {}),
          ...(body.trainTimeoutMinutes ? { trainTimeoutMinutes: body.trainTimeoutMinutes } : {}),
          requestedBy: requesterOf(request).subject,
          ...(opts.trainTaskQueue ? { trainTaskQueue: opts.trainTaskQueue } : {}),
          ...(opts.streamTaskQueue ? { streamTaskQueue: opts.streamTaskQueue } : {}),
          ...(body.shadow ? { shadow: body.shadow } : {}),
          ...(body.deploy ? { deploy: body.deploy } : {}),
        };
        const key = bodyKey ?? headerKey ?? randomUUID();
        const workflowId = lifecycleWorkflowId(body.model, key);
        // The key names the lifecycle: the same key and body answer with the lifecycle they started.
        const started = await startOnce(
          app.temporal,
          'modelLifecycle',
          {
            workflowId,
            taskQueue: opts.controlTaskQueue ?? taskQueues.control,
            args: [input],
            typedSearchAttributes: [
              { key: searchAttributes.model, value: body.model },
              { key: searchAttributes.stage, value: 'train' },
            ],
            memo: { repo: repo.url, ref: repo.ref },
          },
          { route: 'POST /v1/lifecycles', body },
        );
        return reply.status(202).send({
          id: workflowId,
          runId: started.runId,
          links: { self: lifecyclePath(body.model, key), webUi: webUiLink(workflowId, started.runId) },
        });
      },
    );

    r.get(
      '/v1/lifecycles/:model/:key',
      {
        config: { role: 'viewer' },
        schema: {
          summary: "A lifecycle's state: stage, live progress and log, then its result or error",
          tags,
          params: LifecycleParams,
          response: responses({ 200: LifecycleView }, { errors: [404] }),
        },
      },
      async (request) => {
        const { model, key } = request.params;
        const id = lifecycleWorkflowId(model, key);
        const handle = app.temporal.workflow.getHandle(id);
        const desc = await handle.describe();
        const state = desc.status.name;
        const out: Record<string, unknown> = {
          id,
          runId: desc.runId,
          status: state,
          startedAt: desc.startTime.toISOString(),
          closedAt: desc.closeTime?.toISOString(),
          links: { self: lifecyclePath(model, key), webUi: webUiLink(id, desc.runId) },
        };
        if (state === 'COMPLETED') {
          const result = await handle.result();
          return { ...out, ...(result as LifecycleResult) };
        }
        if (state === 'FAILED') {
          const failure = await handle.result().then(() => undefined, failureView);
          return { ...out, ...stageFrom(desc), stage: 'failed', ...failure };
        }
        const live = await app.temporal.connection
          .withDeadline(Date.now() + 3_000, () => handle.query(statusQuery))
          .catch(() => undefined);
        return { ...out, ...(live ?? stageFrom(desc)) };
      },
    );

    r.post(
      '/v1/lifecycles/:model/:key/abort',
      {
        config: { role: 'operator' },
        schema: {
          summary: 'Stop the running stage, its processes included',
          tags,
          params: LifecycleParams,
          body: AbortLifecycleBody,
          response: responses({ 202: AbortedView }, { errors: [404, 409] }),
        },
      },
      async (request, reply) => {
        const id = lifecycleWorkflowId(request.params.model, request.params.key);
        const handle = app.temporal.workflow.getHandle(id);
        const desc = await handle.describe();
        if (desc.status.name !== 'RUNNING')
          throw new MloopError('Conflict', `lifecycle "${id}" is ${desc.status.name.toLowerCase()}, not running`);
        await handle.signal(abortSignal, { reason: request.body.reason, by: requesterOf(request).subject });
        return reply.status(202).send({ id, aborting: true as const });
      },
    );

    for (const [action, approved] of [
      ['approve', true],
      ['reject', false],
    ] as const) {
      r.post(
        `/v1/lifecycles/:model/:key/${action}`,
        {
          config: { role: 'approver' },
          schema: {
            summary: `${approved ? 'Approve' : 'Reject'} the promotion the lifecycle waits for`,
            tags,
            params: LifecycleParams,
            body: DecisionBody,
            response: responses({ 200: DecisionView }, { errors: [404, 409] }),
          },
        },
        async (request) => {
          const handle = app.temporal.workflow.getHandle(lifecycleWorkflowId(request.params.model, request.params.key));
          return decidePromotion(handle, approved, requesterOf(request).subject, request.body.comment);
        },
      );
    }
  };
}

/** Without a live query answer, the search attributes still say where the lifecycle is. */
function stageFrom(desc: WorkflowExecutionDescription): Partial<LifecycleStatus> {
  const model = desc.typedSearchAttributes.get(searchAttributes.model);
  const stage = desc.typedSearchAttributes.get(searchAttributes.stage) as LifecycleStatus['stage'] | undefined;
  return { ...(model ? { model } : {}), ...(stage ? { stage } : {}) };
}
