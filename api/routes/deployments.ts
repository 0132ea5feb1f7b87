import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidInput, MloopError } from '../../core/errors';
import type { Registry } from '../../core/registry/registry';
import {
  deployStatusQuery,
  deployWorkflowId,
  retireWorkflowId,
  searchAttributes,
  taskQueues,
  type DeployModelInput,
  type DeployModelResult,
  type Environment,
  type VersionRef,
} from '../../workflows/definitions';
import { failureView } from '../failure-view';
import { requesterOf } from '../plugins/auth';
import { decidePromotion } from '../promotion-decision';
import {
  DecisionBody,
  DecisionView,
  DeploymentParams,
  DeploymentsView,
  DeployRunParams,
  DeployStartedView,
  DeployView,
  EnvironmentView,
  RetiredView,
  RetireQuery,
  RollbackBody,
  RollbackStartedView,
  StartDeploymentBody,
} from '../schemas/deployments';
import { IdempotencyHeaders, responses } from '../schemas/errors';
import { ModelParams } from '../schemas/models';
import { findStarted, startOnce, type StartRequest } from '../start-workflow';

export interface DeploymentRouteOptions {
  registry: Registry;
  /** Queue override, so tests can route to their own workers. */
  controlTaskQueue?: string;
}

const tags = ['deployments'];

/** The key a start names its workflow by: the body's `key`, else the Idempotency-Key header. */
function startKey(request: FastifyRequest, bodyKey: string | undefined): string | undefined {
  const headerKey = request.headers['idempotency-key'] as string | undefined;
  if (bodyKey !== undefined && headerKey !== undefined && bodyKey !== headerKey) {
    throw invalidInput(
      'headers.idempotency-key',
      `differs from body.key ("${bodyKey}"); send one of them, or both equal`,
    );
  }
  return bodyKey ?? headerKey;
}

/**
 * Deployments: start one (staging, or production behind an approval), see what each environment
 * serves and its audit, approve or reject a waiting promotion, roll production back, retire.
 */
export function deploymentRoutes(opts: DeploymentRouteOptions) {
  return async (app: FastifyInstance): Promise<void> => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();
    const { registry } = opts;
    const taskQueue = opts.controlTaskQueue ?? taskQueues.control;

    const versionRef = async (model: string, version: number): Promise<VersionRef> => {
      const v = await registry.getVersion(model, version);
      return {
        version,
        commitSha: v.commitSha,
        repoUrl: v.repoUrl,
        repoPath: v.repoPath,
        artifactDigest: v.artifactDigest,
      };
    };
    const deployPath = (model: string, environment: Environment, key: string): string =>
      `/v1/deployments/${model}/${environment}/deploys/${key}`;
    const startDeploy = async <A>(input: DeployModelInput, key: string, request: StartRequest, answer?: A) => {
      const workflowId = deployWorkflowId(input.model, input.environment, key);
      const started = await startOnce(
        app.temporal,
        'deployModel',
        {
          workflowId,
          taskQueue,
          args: [input],
          typedSearchAttributes: [
            { key: searchAttributes.model, value: input.model },
            { key: searchAttributes.stage, value: 'deploy:staging' },
            { key: searchAttributes.version, value: input.version.version },
          ],
        },
        request,
        answer,
      );
      return {
        ...started.answer,
        id: workflowId,
        runId: started.runId,
        links: { self: deployPath(input.model, input.environment, key) },
      };
    };

    r.post(
      '/v1/deployments',
      {
        config: { role: 'operator' },
        schema: {
          summary: 'Deploy a version: staging, or production behind an approval',
          tags,
          headers: IdempotencyHeaders,
          body: StartDeploymentBody,
          response: responses({ 202: DeployStartedView }, { errors: [404, 409, 422] }),
        },
      },
      async (request, reply) => {
        const { key: bodyKey, ...body } = request.body;
        const { model, alias, environment, backend, resources, promotion } = body;
        const key = startKey(request, bodyKey) ?? randomUUID();
        if ((body.version === undefined) === (alias === undefined)) {
          throw new MloopError('InvalidInput', 'body: give either "version" or "alias"', { field: 'body.version' });
        }
        const version = body.version ?? (await registry.getAliases(model))[alias ?? ''];
        if (version === undefined) throw new MloopError('NotFound', `model "${model}" has no alias "${alias}"`);
        const input: DeployModelInput = {
          model,
          version: await versionRef(model, version),
          environment,
          requestedBy: requesterOf(request).subject,
          ...(backend ? { backend } : {}),
          ...(resources ? { resources } : {}),
          ...(promotion ? { promotion } : {}),
        };
        return reply.status(202).send(await startDeploy(input, key, { route: 'POST /v1/deployments', body }));
      },
    );

    r.get(
      '/v1/deployments',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'What each environment of each model serves now',
          tags,
          querystring: Type.Object({}, { additionalProperties: false }),
          response: responses({ 200: DeploymentsView }),
        },
      },
      async () => ({ deployments: await registry.currentDeployments() }),
    );

    r.get(
      '/v1/deployments/:model/:env',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'What an environment serves, and its deployment audit',
          tags,
          params: DeploymentParams,
          response: responses({ 200: EnvironmentView }, { errors: [404] }),
        },
      },
      async (request) => {
        const { model, env } = request.params;
        await registry.getModel(model);
        const current = (await registry.currentDeployments(model)).find((d) => d.environment === env) ?? null;
        return { model, environment: env, current, events: await registry.listDeploymentEvents(model, env) };
      },
    );

    r.delete(
      '/v1/deployments/:model/:env',
      {
        config: { role: 'operator' },
        schema: {
          summary: 'Retire: the endpoint stops routing and its servers stop',
          tags,
          headers: IdempotencyHeaders,
          params: DeploymentParams,
          querystring: RetireQuery,
          response: responses({ 200: RetiredView }, { errors: [404, 409, 422] }),
        },
      },
      async (request) => {
        const { model, env } = request.params;
        const given = startKey(request, undefined);
        const req: StartRequest = {
          route: 'DELETE /v1/deployments/:model/:env',
          params: request.params,
          body: request.query,
        };
        // A repeated retirement answers as the first did, although nothing is deployed any more.
        const earlier = given
          ? await findStarted<{ version: number }>(app.temporal, retireWorkflowId(model, env, given), req)
          : undefined;
        if (earlier) {
          await app.temporal.workflow.getHandle(earlier.workflowId).result();
          return { model, environment: env, retired: earlier.answer.version };
        }
        const current = (await registry.currentDeployments(model)).find((d) => d.environment === env);
        if (!current) throw new MloopError('NotFound', `model "${model}" has no ${env} deployment`);
        const key = given ?? current.id.replace(/[^A-Za-z0-9._-]/g, '_').slice(-64);
        const reason = request.query.reason;
        const by = requesterOf(request).subject;
        const started = await startOnce(
          app.temporal,
          'retireDeployment',
          {
            workflowId: retireWorkflowId(model, env, key),
            taskQueue,
            args: [{ model, environment: env, version: current.version, by, ...(reason ? { reason } : {}) }],
          },
          req,
          { version: current.version },
        );
        await app.temporal.workflow.getHandle(started.workflowId).result();
        return { model, environment: env, retired: started.answer.version };
      },
    );

    r.get(
      '/v1/deployments/:model/:env/deploys/:key',
      {
        config: { role: 'viewer' },
        schema: {
          summary: "A deploy's phase, endpoints, approval deadline and decision, or its result",
          tags,
          params: DeployRunParams,
          response: responses({ 200: DeployView }, { errors: [404] }),
        },
      },
      async (request) => {
        const { model, env, key } = request.params;
        return describeDeploy(app.temporal.workflow.getHandle(deployWorkflowId(model, env, key)));
      },
    );

    for (const [action, approved] of [
      ['approve', true],
      ['reject', false],
    ] as const) {
      r.post(
        `/v1/deployments/:model/:env/deploys/:key/${action}`,
        {
          config: { role: 'approver' },
          schema: {
            summary: `${approved ? 'Approve' : 'Reject'} the promotion a deploy waits for`,
            tags,
            params: DeployRunParams,
            body: DecisionBody,
            response: responses({ 200: DecisionView }, { errors: [404, 409] }),
          },
        },
        async (request) => {
          const { model, env, key } = request.params;
          const handle = app.temporal.workflow.getHandle(deployWorkflowId(model, env, key));
          return decidePromotion(handle, approved, requesterOf(request).subject, request.body.comment);
        },
      );
    }

    // Production goes back to the version that was champion before the current one, through the
    // same blue/green deploy; the approver's call is the approval (that version was approved before).
    r.post(
      '/v1/models/:name/rollback',
      {
        config: { role: 'approver' },
        schema: {
          summary: 'Production back to the previous champion',
          tags,
          headers: IdempotencyHeaders,
          params: ModelParams,
          body: RollbackBody,
          response: responses({ 202: RollbackStartedView }, { errors: [404, 409, 422] }),
        },
      },
      async (request, reply) => {
        const model = request.params.name;
        const environment: Environment = 'production';
        const given = startKey(request, undefined);
        const req: StartRequest = {
          route: 'POST /v1/models/:name/rollback',
          params: request.params,
          body: request.body,
        };
        // Once the rollback ran, the champion has moved: a repeat must not roll back once more.
        const earlier = given
          ? await findStarted<{ from: number; to: number }>(
              app.temporal,
              deployWorkflowId(model, environment, given),
              req,
            )
          : undefined;
        if (earlier) {
          const links = { self: deployPath(model, environment, given!) };
          return reply.status(202).send({ ...earlier.answer, id: earlier.workflowId, runId: earlier.runId, links });
        }
        const { reason, backend, resources } = request.body;
        const current = (await registry.getAliases(model)).champion;
        if (current === undefined)
          throw new MloopError('Conflict', `model "${model}" has no champion to roll back from`);
        const moves = (await registry.aliasHistory(model)).filter((m) => m.alias === 'champion');
        const move = moves.findLast((m) => m.version === current);
        const previous = move?.previousVersion ?? null;
        if (!move || previous === null)
          throw new MloopError(
            'Conflict',
            `champion v${current} of "${model}" has no previous champion to roll back to`,
          );
        const by = requesterOf(request).subject;
        const input: DeployModelInput = {
          model,
          version: await versionRef(model, previous),
          environment,
          requestedBy: by,
          preApproved: { approved: true, by, comment: reason, at: new Date().toISOString() },
          reason: `rollback from v${current}: ${reason}`,
          rollbackOf: current,
          ...(backend ? { backend } : {}),
          ...(resources ? { resources } : {}),
        };
        // Without a key, one rollback per champion move: the same move rolled back twice is one request.
        const key = given ?? `rollback-v${current}-to-v${previous}-m${move.id}`;
        return reply.status(202).send(await startDeploy(input, key, req, { from: current, to: previous }));
      },
    );
  };
}

async function describeDeploy(handle: WorkflowHandle): Promise<Record<string, unknown>> {
  const desc = await handle.describe();
  const out = {
    id: handle.workflowId,
    runId: desc.runId,
    status: desc.status.name,
    startedAt: desc.startTime.toISOString(),
  };
  if (desc.status.name === 'COMPLETED') return { ...out, ...((await handle.result()) as DeployModelResult) };
  if (desc.status.name === 'FAILED') return { ...out, ...(await handle.result().then(() => ({}), failureView)) };
  const live = await handle.query(deployStatusQuery).catch(() => undefined);
  return { ...out, ...(live ?? {}) };
}
