import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { MloopError } from '../../core/errors';
import type { Registry } from '../../core/registry/registry';
import {
  approvePromotionUpdate,
  deployStatusQuery,
  deployWorkflowId,
  lifecycleWorkflowId,
  rejectPromotionUpdate,
  retireWorkflowId,
  searchAttributes,
  taskQueues,
  type DeployModelInput,
  type DeployModelResult,
  type Environment,
  type PromotionDecision,
  type VersionRef,
} from '../../workflows/definitions';
import type { deployModel } from '../../workflows/deploy-model';
import type { retireDeployment } from '../../workflows/retire-deployment';
import { failureView } from '../failure-view';
import { requesterOf } from '../plugins/auth';
import {
  DecisionBody,
  DeploymentParams,
  DeployRunParams,
  LifecycleParams,
  RetireQuery,
  RollbackBody,
  StartDeploymentBody,
} from '../schemas/deployments';
import { ModelParams } from '../schemas/models';

export interface DeploymentRouteOptions {
  registry: Registry;
  /** Queue override, so tests can route to their own workers. */
  controlTaskQueue?: string;
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
      return { version, commitSha: v.commitSha, repoUrl: v.repoUrl, repoPath: v.repoPath, artifactDigest: v.artifactDigest };
    };
    const startDeploy = async (input: DeployModelInput, key: string) => {
      const workflowId = deployWorkflowId(input.model, input.environment, key);
      const handle = await app.temporal.workflow.start<typeof deployModel>('deployModel', {
        workflowId,
        taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        typedSearchAttributes: [
          { key: searchAttributes.model, value: input.model },
          { key: searchAttributes.stage, value: 'deploy:staging' },
          { key: searchAttributes.version, value: input.version.version },
        ],
      });
      const self = `/v1/deployments/${input.model}/${input.environment}/deploys/${key}`;
      return { id: workflowId, runId: handle.firstExecutionRunId, links: { self } };
    };

    r.post('/v1/deployments', { config: { role: 'operator' }, schema: { body: StartDeploymentBody } }, async (request, reply) => {
      const { model, alias, environment, key, backend, resources, promotion } = request.body;
      if ((request.body.version === undefined) === (alias === undefined)) {
        throw new MloopError('InvalidInput', 'body: give either "version" or "alias"', { field: 'body.version' });
      }
      const version = request.body.version ?? (await registry.getAliases(model))[alias ?? ''];
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
      return reply.status(202).send(await startDeploy(input, key ?? randomUUID()));
    });

    r.get('/v1/deployments', { config: { role: 'viewer' } }, async () => ({ deployments: await registry.currentDeployments() }));

    r.get('/v1/deployments/:model/:env', { config: { role: 'viewer' }, schema: { params: DeploymentParams } }, async (request) => {
      const { model, env } = request.params;
      await registry.getModel(model);
      const current = (await registry.currentDeployments(model)).find((d) => d.environment === env) ?? null;
      return { model, environment: env, current, events: await registry.listDeploymentEvents(model, env) };
    });

    r.delete(
      '/v1/deployments/:model/:env',
      { config: { role: 'operator' }, schema: { params: DeploymentParams, querystring: RetireQuery } },
      async (request, reply) => {
        const { model, env } = request.params;
        const current = (await registry.currentDeployments(model)).find((d) => d.environment === env);
        if (!current) throw new MloopError('NotFound', `model "${model}" has no ${env} deployment`);
        const workflowId = retireWorkflowId(model, env, current.id.replace(/[^A-Za-z0-9._-]/g, '_').slice(-64));
        const handle = await app.temporal.workflow.start<typeof retireDeployment>('retireDeployment', {
          workflowId,
          taskQueue,
          args: [{ model, environment: env, version: current.version, by: requesterOf(request).subject, ...(request.query.reason ? { reason: request.query.reason } : {}) }],
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
        await handle.result();
        return reply.status(200).send({ model, environment: env, retired: current.version });
      },
    );

    r.get('/v1/deployments/:model/:env/deploys/:key', { config: { role: 'viewer' }, schema: { params: DeployRunParams } }, async (request) => {
      const { model, env, key } = request.params;
      return describeDeploy(app.temporal.workflow.getHandle(deployWorkflowId(model, env, key)));
    });

    const decide = (approved: boolean) => async (handle: WorkflowHandle, by: string, comment: string | undefined) => {
      try {
        return await handle.executeUpdate(approved ? approvePromotionUpdate : rejectPromotionUpdate, {
          args: [{ by, ...(comment ? { comment } : {}) }],
        });
      } catch (err) {
        // The validator's refusal says why (already decided, nothing waiting, failed shadow test…).
        if (err instanceof WorkflowUpdateFailedError) throw new MloopError('Conflict', err.cause?.message ?? err.message);
        throw err;
      }
    };
    for (const [action, approved] of [['approve', true], ['reject', false]] as const) {
      const config = { role: 'approver' } as const;
      r.post(
        `/v1/deployments/:model/:env/deploys/:key/${action}`,
        { config, schema: { params: DeployRunParams, body: DecisionBody } },
        async (request): Promise<PromotionDecision> => {
          const { model, env, key } = request.params;
          const handle = app.temporal.workflow.getHandle(deployWorkflowId(model, env, key));
          return decide(approved)(handle, requesterOf(request).subject, request.body.comment);
        },
      );
      // Lifecycle IDs are `lifecycle/<model>/<key>`; this route is that ID under /v1/lifecycles.
      r.post(
        `/v1/lifecycles/lifecycle/:model/:key/${action}`,
        { config, schema: { params: LifecycleParams, body: DecisionBody } },
        async (request): Promise<PromotionDecision> => {
          const { model, key } = request.params;
          const handle = app.temporal.workflow.getHandle(lifecycleWorkflowId(model, key));
          return decide(approved)(handle, requesterOf(request).subject, request.body.comment);
        },
      );
    }

    // Production goes back to the version that was champion before the current one, through the
    // same blue/green deploy; the approver's call is the approval (that version was approved before).
    r.post(
      '/v1/models/:name/rollback',
      { config: { role: 'approver' }, schema: { params: ModelParams, body: RollbackBody } },
      async (request, reply) => {
        const model = request.params.name;
        const { reason, backend, resources } = request.body;
        const current = (await registry.getAliases(model)).champion;
        if (current === undefined) throw new MloopError('Conflict', `model "${model}" has no champion to roll back from`);
        const moves = (await registry.aliasHistory(model)).filter((m) => m.alias === 'champion');
        const previous = moves.findLast((m) => m.version === current)?.previousVersion ?? null;
        if (previous === null) throw new MloopError('Conflict', `champion v${current} of "${model}" has no previous champion to roll back to`);
        const by = requesterOf(request).subject;
        const environment: Environment = 'production';
        const input: DeployModelInput = {
          model,
          version: await versionRef(model, previous),
          environment,
          requestedBy: by,
          preApproved: { approved: true, by, comment: reason, at: new Date().toISOString() },
          reason: `rollback from v${current}: ${reason}`,
          ...(backend ? { backend } : {}),
          ...(resources ? { resources } : {}),
        };
        return reply.status(202).send({ from: current, to: previous, ...(await startDeploy(input, `rollback-v${current}-to-v${previous}`)) });
      },
    );
  };
}

async function describeDeploy(handle: WorkflowHandle): Promise<Record<string, unknown>> {
  const desc = await handle.describe();
  const out = { id: handle.workflowId, runId: desc.runId, status: desc.status.name, startedAt: desc.startTime.toISOString() };
  if (desc.status.name === 'COMPLETED') return { ...out, ...((await handle.result()) as DeployModelResult) };
  if (desc.status.name === 'FAILED') return { ...out, ...(await handle.result().then(() => ({}), failureView)) };
  const live = await handle.query(deployStatusQuery).catch(() => undefined);
  return { ...out, ...(live ?? {}) };
}
