import { Type } from '@sinclair/typebox';
import { ApplicationFailure } from '@temporalio/common';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { ingestRecords } from '../../core/connectors/http-ingest';
import { errorCodes, MloopError, type ErrorCode } from '../../core/errors';
import type { KafkaPort } from '../../core/kafka/adapter';
import { modelFeaturesOf, type DeploymentLookup } from '../../core/pipeline/model-endpoints';
import type { PipelineSpec } from '../../core/pipeline/spec';
import { parsePipelineText, validatePipeline, type SpecProblem } from '../../core/pipeline/validate';
import {
  pipelineDefinitionQuery,
  pipelineStatusQuery,
  pipelineWorkflowId,
  searchAttributes,
  setTransformModelUpdate,
  stopPipelineUpdate,
  taskQueues,
  type PipelineInput,
  type PipelineStatus,
} from '../../workflows/definitions';
import type { pipeline } from '../../workflows/pipeline';
import { requesterOf } from '../plugins/auth';
import { IdempotencyHeaders } from '../schemas/errors';
import { requestDigest, startMemo, startRecordOf, type StartRecord, type StartRequest } from '../start-workflow';
import {
  errorResponses,
  IngestBody,
  IngestParams,
  IngestResponse,
  ModelChoiceBody,
  ModelSwapResponse,
  PipelineBody,
  PipelineList,
  PipelineParams,
  PipelineStarted,
  PipelineStatusResponse,
  TransformParams,
} from '../schemas/pipelines';

export interface PipelineRouteOptions {
  registry: DeploymentLookup;
  /** For the http sources' ingest route; without it that route answers 503. */
  kafka?: KafkaPort;
  /** Queue overrides, so tests can route to their own workers. */
  controlTaskQueue?: string;
  streamTaskQueue?: string;
  /** How often pipeline units report to their workflow (tests shorten it). */
  pipelineReportIntervalMs?: number;
}

// Memo field: the Idempotency-Key a pipeline was started with.
const keyMemo = 'mloopIdempotencyKey';

const yamlTypes = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

const refuse = (problems: SpecProblem[]): MloopError =>
  new MloopError(
    'InvalidInput',
    `invalid pipeline spec: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    {
      field: problems[0]?.path,
    },
  );

/**
 * Pipelines: start one from a spec (validated before anything is created), list them, see one's
 * status, swap the model of a model transform, stop one, and feed its http sources.
 */
export function pipelineRoutes(opts: PipelineRouteOptions) {
  return async (app: FastifyInstance): Promise<void> => {
    const r = app.withTypeProvider<TypeBoxTypeProvider>();
    const taskQueue = opts.controlTaskQueue ?? taskQueues.control;
    // Within this plugin only: a spec may come as YAML text.
    app.addContentTypeParser(yamlTypes, { parseAs: 'string' }, (_request, body, done) => done(null, body));

    /** The spec validated in full (structure, graph, fields against the deployed models' features). */
    const validated = async (body: unknown): Promise<PipelineSpec> => {
      const spec = typeof body === 'string' ? parsePipelineText(body) : body;
      // A model without a deployment is named by validation itself, at its transform's place.
      const { models } = await modelFeaturesOf(spec, opts.registry);
      const full = validatePipeline(spec, { models });
      if (!full.ok) throw refuse(full.problems);
      return full.pipeline.spec;
    };

    const running = async (name: string): Promise<WorkflowHandle<typeof pipeline>> => {
      const handle = app.temporal.workflow.getHandle<typeof pipeline>(pipelineWorkflowId(name));
      const desc = await handle.describe().catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) throw new MloopError('NotFound', `no pipeline "${name}"`);
        throw err;
      });
      if (desc.status.name !== 'RUNNING') throw new MloopError('NotFound', `pipeline "${name}" is not running`);
      return handle;
    };

    r.post(
      '/v1/pipelines',
      {
        config: { role: 'operator' },
        schema: {
          headers: IdempotencyHeaders,
          body: PipelineBody,
          response: { 202: PipelineStarted, ...errorResponses },
        },
      },
      async (request, reply) => {
        const spec = await validated(request.body);
        const workflowId = pipelineWorkflowId(spec.name);
        // The name names the workflow; a key makes the same request safe to send again.
        const key = request.headers['idempotency-key'] as string | undefined;
        const req: StartRequest = { route: 'POST /v1/pipelines', params: { key }, body: request.body };
        const answer = {
          name: spec.name,
          topics: spec.topics.map((t) => t.name),
          links: { self: `/v1/pipelines/${spec.name}` },
        };
        const replayed = (record: StartRecord | undefined) =>
          key !== undefined && record?.digest === requestDigest(req)
            ? reply.status(202).send({ ...answer, id: workflowId, runId: record.firstRunId })
            : undefined;
        const refused = (record: StartRecord | undefined): MloopError =>
          key !== undefined && record?.memo[keyMemo] === key && record.running
            ? new MloopError(
                'IdempotencyKeyReused',
                `pipeline "${spec.name}" runs, started by a different request; ` +
                  `repeat that request exactly, or stop it first`,
                { field: 'headers.idempotency-key' },
              )
            : new MloopError('Conflict', `pipeline "${spec.name}" already exists`);

        const prior = await startRecordOf(app.temporal, workflowId);
        const again = replayed(prior);
        if (again) return again;
        if (prior?.running) throw refused(prior);
        const model = spec.transforms.find((t) => t.kind === 'model');
        const input: PipelineInput = {
          spec,
          requestedBy: requesterOf(request).subject,
          ...(opts.streamTaskQueue ? { streamTaskQueue: opts.streamTaskQueue } : {}),
          ...(opts.pipelineReportIntervalMs ? { reportIntervalMs: opts.pipelineReportIntervalMs } : {}),
        };
        try {
          const handle = await app.temporal.workflow.start<typeof pipeline>('pipeline', {
            workflowId,
            taskQueue,
            args: [input],
            // A second POST while it runs is a conflict; a stopped pipeline's name may be used again.
            workflowIdConflictPolicy: 'FAIL',
            workflowIdReusePolicy: 'ALLOW_DUPLICATE',
            ...(key !== undefined ? { memo: { ...startMemo(req), [keyMemo]: key } } : {}),
            typedSearchAttributes: [
              { key: searchAttributes.stage, value: 'pipeline' },
              ...(model?.kind === 'model' ? [{ key: searchAttributes.model, value: model.model }] : []),
            ],
          });
          return reply.status(202).send({ ...answer, id: workflowId, runId: handle.firstExecutionRunId });
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          // Another request started it in between: the same one (sent twice at once) gets its answer.
          const record = await startRecordOf(app.temporal, workflowId);
          const same = replayed(record);
          if (same) return same;
          throw refused(record);
        }
      },
    );

    r.get(
      '/v1/pipelines',
      {
        config: { role: 'viewer' },
        schema: {
          querystring: Type.Object({}, { additionalProperties: false }),
          response: { 200: PipelineList, ...errorResponses },
        },
      },
      async () => {
        const pipelines: Array<{ name: string; id: string; startedAt: string }> = [];
        const query = `WorkflowType = 'pipeline' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue}'`;
        for await (const w of app.temporal.workflow.list({ query })) {
          pipelines.push({
            name: w.workflowId.replace(/^pipeline\//, ''),
            id: w.workflowId,
            startedAt: w.startTime.toISOString(),
          });
        }
        return { pipelines: pipelines.sort((a, b) => a.name.localeCompare(b.name)) };
      },
    );

    r.get(
      '/v1/pipelines/:name',
      {
        config: { role: 'viewer' },
        schema: { params: PipelineParams, response: { 200: PipelineStatusResponse, ...errorResponses } },
      },
      async (request) => {
        const { name } = request.params;
        const handle = app.temporal.workflow.getHandle<typeof pipeline>(pipelineWorkflowId(name));
        const desc = await handle.describe().catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError) throw new MloopError('NotFound', `no pipeline "${name}"`);
          throw err;
        });
        const base = { id: handle.workflowId, status: desc.status.name, name };
        if (desc.status.name === 'RUNNING') return { ...base, ...(await handle.query(pipelineStatusQuery)) };
        if (desc.status.name === 'COMPLETED') return { ...base, ...((await handle.result()) as PipelineStatus) };
        const failure = await handle.result().then(
          () => undefined,
          (err: unknown) =>
            err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err),
        );
        return { ...base, ...(failure ? { error: String(failure) } : {}) };
      },
    );

    r.delete(
      '/v1/pipelines/:name',
      {
        config: { role: 'operator' },
        schema: { params: PipelineParams, response: { 200: PipelineStatusResponse, ...errorResponses } },
      },
      async (request) => {
        const { name } = request.params;
        const handle = await running(name);
        await handle.executeUpdate(stopPipelineUpdate, { args: [{ by: requesterOf(request).subject }] });
        // The workflow ends once its units stopped: wait for it, so the answer means "gone".
        const final = await handle.result();
        return { id: handle.workflowId, status: 'COMPLETED', ...final };
      },
    );

    r.put(
      '/v1/pipelines/:name/transforms/:transform/model',
      {
        config: { role: 'operator' },
        schema: {
          params: TransformParams,
          body: ModelChoiceBody,
          response: { 200: ModelSwapResponse, ...errorResponses },
        },
      },
      async (request) => {
        const { name, transform } = request.params;
        const handle = await running(name);
        const model =
          'version' in request.body ? { version: request.body.version } : { environment: request.body.environment };
        try {
          return await handle.executeUpdate(setTransformModelUpdate, {
            args: [{ transform, model, by: requesterOf(request).subject }],
          });
        } catch (err) {
          if (!(err instanceof WorkflowUpdateFailedError)) throw err;
          const cause = err.cause;
          // A new model that does not fit (or is not deployed) keeps its type;
          // a refusal by the validator is a conflict.
          const type = cause instanceof ApplicationFailure ? cause.type : undefined;
          const code: ErrorCode = type && type in errorCodes ? (type as ErrorCode) : 'Conflict';
          throw new MloopError(code, cause?.message ?? err.message, { field: 'body' });
        }
      },
    );

    r.post(
      '/v1/pipelines/:name/ingest/:source',
      {
        config: { role: 'operator' },
        schema: { params: IngestParams, body: IngestBody, response: { 200: IngestResponse, ...errorResponses } },
      },
      async (request) => {
        const { name, source } = request.params;
        const handle = await running(name);
        if (!opts.kafka) throw new MloopError('Unavailable', 'this API has no Kafka connection for ingest');
        const definition = await handle.query(pipelineDefinitionQuery);
        if (!definition) throw new MloopError('Unavailable', `pipeline "${name}" is still creating its topics`);
        return ingestRecords(opts.kafka, definition, source, request.body);
      },
    );
  };
}
