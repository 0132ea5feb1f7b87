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
import { AbortLifecycleBody, StartLifecycleBody } from '../schemas/lifecycle';

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

export function lifecycleRoutes(opts: LifecycleRouteOptions) {
  return async (app: FastifyInstance): Promise<void> => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();
    const webUiLink = (id: string, runId: string): string =>
      `${opts.webUiUrl}/namespaces/${encodeURIComponent(opts.namespace)}/workflows/${encodeURIComponent(id)}/${runId}/history`;

    const change = { role: 'operator' } as const;

    r.post('/v1/lifecycles', { config: change, schema: { body: StartLifecycleBody } }, async (request, reply) => {
      const body = request.body;
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
      const workflowId = lifecycleWorkflowId(body.model, body.key ?? randomUUID());
      const handle = await app.temporal.workflow.start('modelLifecycle', {
        workflowId,
        taskQueue: opts.controlTaskQueue ?? taskQueues.control,
        args: [input],
        // A repeated key returns the lifecycle it already started instead of starting another.
        workflowIdConflictPolicy: 'USE_EXISTING',
        typedSearchAttributes: [
          { key: searchAttributes.model, value: body.model },
          { key: searchAttributes.stage, value: 'train' },
        ],
        memo: { repo: repo.url, ref: repo.ref },
      });
      return reply.status(202).send({
        id: workflowId,
        runId: handle.firstExecutionRunId,
        links: { self: `/v1/lifecycles/${workflowId}`, webUi: webUiLink(workflowId, handle.firstExecutionRunId) },
      });
    });

    // `POST /v1/lifecycles/<id>/abort`: stops the running stage (its processes included).
    r.post('/v1/lifecycles/*', { config: change, schema: { body: AbortLifecycleBody } }, async (request, reply) => {
      const rest = (request.params as { '*': string })['*'];
      const m = /^(lifecycle\/.+)\/abort$/.exec(rest);
      if (!m?.[1]) throw new MloopError('NotFound', `no such action: POST /v1/lifecycles/${rest}`);
      const handle = app.temporal.workflow.getHandle(m[1]);
      const desc = await handle.describe();
      if (desc.status.name !== 'RUNNING') throw new MloopError('Conflict', `lifecycle "${m[1]}" is ${desc.status.name.toLowerCase()}, not running`);
      await handle.signal(abortSignal, { reason: request.body.reason, by: requesterOf(request).subject });
      return reply.status(202).send({ id: m[1], aborting: true });
    });

    // Lifecycle IDs contain slashes (`lifecycle/<model>/<key>`), so the rest of the path is the ID.
    r.get('/v1/lifecycles/*', { config: { role: 'viewer' } }, async (request) => {
      const id = (request.params as { '*': string })['*'];
      if (!id.startsWith('lifecycle/')) throw new MloopError('NotFound', `no lifecycle "${id}"`);
      const handle = app.temporal.workflow.getHandle(id);
      const desc = await handle.describe();
      const state = desc.status.name;
      const out: Record<string, unknown> = {
        id,
        runId: desc.runId,
        status: state,
        startedAt: desc.startTime.toISOString(),
        closedAt: desc.closeTime?.toISOString(),
        links: { webUi: webUiLink(id, desc.runId) },
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
    });
  };
}

/** Without a live query answer, the search attributes still say where the lifecycle is. */
function stageFrom(desc: WorkflowExecutionDescription): Partial<LifecycleStatus> {
  const model = desc.typedSearchAttributes.get(searchAttributes.model);
  const stage = desc.typedSearchAttributes.get(searchAttributes.stage) as LifecycleStatus['stage'] | undefined;
  return { ...(model ? { model } : {}), ...(stage ? { stage } : {}) };
}
