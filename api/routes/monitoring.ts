import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { WorkflowFailedError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { DriftSchedules } from '../../activities/drift-schedules';
import type { ArtifactStore } from '../../core/artifacts/store';
import { MloopError } from '../../core/errors';
import { applyPatch, effectiveSettings, type MonitoringPatch } from '../../core/monitoring/settings';
import type { Registry } from '../../core/registry/registry';
import { taskQueues, type Environment } from '../../workflows/definitions';
import type { driftCheck } from '../../workflows/drift-check';
import {
  driftCheckWorkflowId,
  type DriftCheckInput,
  type MonitoringSettings,
} from '../../workflows/monitoring-definitions';
import { failureView } from '../failure-view';
import { requesterOf } from '../plugins/auth';
import {
  DriftCheckBody,
  DriftCheckView,
  ErrorResponse,
  errors,
  ModelParams,
  MonitoringView,
  PatchMonitoringBody,
  ReportList,
  ReportListQuery,
  ReportParams,
  ReportView,
} from '../schemas/monitoring';

export interface MonitoringRouteOptions {
  registry: Registry;
  /** Where the reports' HTML pages are; without it the `.html` route answers 404. */
  artifacts?: ArtifactStore;
  controlTaskQueue?: string;
}

const environments: Environment[] = ['staging', 'production'];
const fail = { 421: ErrorResponse, 500: ErrorResponse };
// The page loads nothing and runs nothing, whatever a feature name in it says.
const htmlPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/**
 * Monitoring of a model: its settings and drift schedules (read and changed), a check run now,
 * and the stored drift reports, as JSON or as their HTML page.
 */
export function monitoringRoutes(opts: MonitoringRouteOptions) {
  return async (app: FastifyInstance): Promise<void> => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();
    const { registry } = opts;
    const taskQueue = opts.controlTaskQueue ?? taskQueues.control;
    const schedules = new DriftSchedules(app.temporal, taskQueue);

    const view = async (model: string, settings?: MonitoringSettings) => {
      const stored = await registry.getMonitoringSettings(model);
      return {
        model,
        settings: settings ?? effectiveSettings(stored?.settings),
        updatedAt: stored?.updatedAt ?? null,
        updatedBy: stored?.updatedBy ?? null,
        schedules: await Promise.all(environments.map((e) => schedules.describe(model, e))),
      };
    };

    r.get(
      '/v1/models/:name/monitoring',
      {
        config: { role: 'viewer' },
        schema: { params: ModelParams, response: { 200: MonitoringView, ...errors, ...fail } },
      },
      async (request) => {
        await registry.getModel(request.params.name);
        return view(request.params.name);
      },
    );

    r.patch(
      '/v1/models/:name/monitoring',
      {
        config: { role: 'operator' },
        schema: {
          params: ModelParams,
          body: PatchMonitoringBody,
          response: { 200: MonitoringView, ...errors, ...fail },
        },
      },
      async (request) => {
        const model = request.params.name;
        const patch = request.body as MonitoringPatch;
        const next = await registry.updateMonitoringSettings(model, requesterOf(request).subject, (current) =>
          applyPatch(effectiveSettings(current), patch, 'body.'),
        );
        // Schedules exist only where something was promoted; those that do follow the settings.
        await schedules.apply(model, environments, next);
        return view(model, next);
      },
    );

    r.post(
      '/v1/models/:name/drift-checks',
      {
        config: { role: 'operator' },
        schema: { params: ModelParams, body: DriftCheckBody, response: { 200: DriftCheckView, ...errors, ...fail } },
      },
      async (request) => {
        const model = request.params.name;
        await registry.getModel(model);
        const environment = request.body.environment ?? 'production';
        const input: DriftCheckInput = { model, environment, requestedBy: requesterOf(request).subject };
        const id = driftCheckWorkflowId(model, environment, `now-${randomUUID()}`);
        const handle = await app.temporal.workflow.start<typeof driftCheck>('driftCheck', {
          workflowId: id,
          taskQueue,
          args: [input],
        });
        const result = await handle.result().catch((err: unknown) => {
          // The check ran and failed (a setting it cannot use, a corrupt profile): say why, in one line.
          if (!(err instanceof WorkflowFailedError)) throw err;
          const { error, errorType } = failureView(err);
          throw new MloopError(
            'Conflict',
            `the drift check ${id} failed${errorType ? ` (${errorType})` : ''}: ${error}`,
          );
        });
        const base = `/v1/models/${model}/drift-reports/${result.reportId}`;
        return { id, ...result, ...(result.reportId ? { links: { report: base, html: `${base}.html` } } : {}) };
      },
    );

    r.get(
      '/v1/models/:name/drift-reports',
      {
        config: { role: 'viewer' },
        schema: {
          params: ModelParams,
          querystring: ReportListQuery,
          response: { 200: ReportList, ...errors, ...fail },
        },
      },
      async (request) => {
        await registry.getModel(request.params.name);
        const { environment, limit } = request.query;
        const list = await registry.listDriftReports(request.params.name, {
          ...(environment ? { environment } : {}),
          ...(limit ? { limit: Number(limit) } : {}),
        });
        return { reports: list };
      },
    );

    r.get(
      '/v1/models/:name/drift-reports/:id',
      {
        config: { role: 'viewer' },
        schema: { params: ReportParams, response: { 200: ReportView, ...errors, ...fail } },
      },
      async (request) => registry.getDriftReport(request.params.name, request.params.id),
    );

    r.get(
      '/v1/models/:name/drift-reports/:id.html',
      {
        config: { role: 'viewer' },
        schema: {
          params: ReportParams,
          response: { 200: Type.String({ description: 'The self-contained HTML page' }), ...errors, ...fail },
        },
      },
      async (request, reply) => {
        const { name, id } = request.params;
        const stored = await registry.getDriftReport(name, id);
        if (!opts.artifacts || !(await opts.artifacts.has(stored.htmlDigest))) {
          throw new MloopError('NotFound', `the HTML page of drift report "${id}" is not in this API's artifact store`);
        }
        return reply
          .type('text/html; charset=utf-8')
          .header('content-security-policy', htmlPolicy)
          .header('x-content-type-options', 'nosniff')
          .send(await fs.readFile(opts.artifacts.pathOf(stored.htmlDigest), 'utf8'));
      },
    );
  };
}
