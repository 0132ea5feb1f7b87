import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app';
import type { Role } from '../../core/auth/roles';
import type { Registry } from '../../core/registry/registry';
import { docsRoutes, routeSamples, validPipeline } from '../helpers/api-routes';
import { as, testAuth } from '../helpers/auth';
import { jsonBodies, query, segment, strayBody, type FuzzInput } from '../helpers/fuzz-inputs';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { newRun, newVersion } from '../helpers/registry';
import { slowTrainPy } from '../helpers/slow-model';
import { config, startTestStack, type TestStack } from '../helpers/stack';

const runsPerRoute = Number(process.env.MLOOP_FUZZ_RUNS ?? 1000);
// Chosen here rather than by fast-check, and printed first: a run that ends the process (out of
// memory) reports no seed of its own, and `MLOOP_FUZZ_SEED` repeats it.
const seed = process.env.MLOOP_FUZZ_SEED ? Number(process.env.MLOOP_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
console.log(`fuzz seed ${seed} (MLOOP_FUZZ_SEED=${seed} repeats this run)`);

/** The real Temporal client, counting what reaches it: starts and signals. */
function counting(client: Client): { client: Client; counts: { starts: number; signals: number; updates: number } } {
  const counts = { starts: 0, signals: 0, updates: 0 };
  const workflow = new Proxy(client.workflow, {
    get(target, prop) {
      if (prop === 'start') {
        return (...args: Parameters<typeof target.start>) => {
          counts.starts++;
          return target.start(...args);
        };
      }
      if (prop === 'getHandle') {
        return (...args: Parameters<typeof target.getHandle>) => {
          const handle = target.getHandle(...args);
          return new Proxy(handle, {
            get(h, p) {
              if (p === 'signal') counts.signals++;
              if (p === 'executeUpdate') counts.updates++;
              const v = Reflect.get(h, p, h) as unknown;
              return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(h) : v;
            },
          });
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const wrapped = new Proxy(client, {
    get: (target, prop) => (prop === 'workflow' ? workflow : Reflect.get(target, prop, target)),
  });
  return { client: wrapped, counts };
}

interface RouteFuzz {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  route: string;
  access: Role | 'public';
  inputs: fc.Arbitrary<FuzzInput>;
}

const authVariants = ['none', 'invalid', 'weak role', 'valid'] as const;
type AuthVariant = (typeof authVariants)[number];

describe('fuzzing every route, with and without valid tokens (real Temporal server)', () => {
  const model = `fuzz-${randomUUID().slice(0, 8)}`;
  let stack: TestStack;
  let counted: ReturnType<typeof counting>;
  let registry: Registry;
  let app: FastifyInstance;
  let running: string;
  const started = new Set<string>();
  // Runs of lifecycles that answered 202 to a valid operator token.
  const startedRuns = new Set<string>();
  const table: Array<Record<string, string | number>> = [];

  beforeAll(async () => {
    // Real workers: lifecycles that valid requests start run (and fail on their made-up repositories).
    stack = await startTestStack('fuzz-api');
    counted = counting(stack.client);
    registry = stack.deps.registry;
    await registry.recordRun(newRun(model, `lifecycle/${model}/k1/train`));
    await registry.registerVersion(newVersion(model, `${model}-1`, { trainingRunId: `lifecycle/${model}/k1/train` }));
    await registry.registerVersion(newVersion(model, `${model}-2`));
    app = await buildApp({
      // The sample sources are made-up paths: these roots let them past the path check.
      allowedRoots: [...config.allowedRoots, '/srv/models', '/data'],
      temporal: counted.client,
      registry,
      kafka: stack.deps.kafka,
      namespace: config.temporalNamespace,
      webUiUrl: config.temporalUiUrl,
      controlTaskQueue: stack.queues.control,
      trainTaskQueue: stack.queues.train,
      streamTaskQueue: stack.queues.stream,
      auth: testAuth,
    });
    // A lifecycle that trains for minutes, so that status reads and aborts meet a running one.
    const repo = await createExampleModelRepo({ 'train.py': slowTrainPy });
    const payload = {
      model,
      repo: { url: repo.url, ref: 'main', path: repo.path },
      dataset: { path: await createExampleDataset(200) },
      key: 'k1',
    };
    const res = await app.inject({ method: 'POST', url: '/v1/lifecycles', headers: as('tester'), payload });
    expect(res.statusCode, res.body).toBe(202);
    running = res.json<{ id: string }>().id;
    started.add(running);
    startedRuns.add(res.json<{ runId: string }>().runId);
  });

  afterAll(async () => {
    if (table.length) console.table(table);
    for (const id of started) {
      const handle = stack.client.workflow.getHandle(id);
      const desc = await handle.describe().catch(() => undefined);
      // Only ours: a generated ID that names somebody else's workflow is left alone.
      if (desc?.taskQueue === stack.queues.control && desc.status.name === 'RUNNING')
        await handle.terminate('fuzz test done').catch(() => undefined);
    }
    await app?.close();
    await stack?.stop();
  });

  const lifecycleId = fc.oneof(
    fc.constant(`lifecycle/${model}/k1`),
    fc.tuple(segment, segment).map(([m, k]) => `lifecycle/${m}/${k}`),
    fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => s.join('/')),
  );
  const name = fc.oneof(fc.constant(model), segment);
  // `<model>/<key>` of a lifecycle's path, and paths with other numbers of segments.
  const lifecycleKey = fc.oneof(
    fc.constant(`${model}/k1`),
    fc.tuple(name, segment).map(([m, k]) => `${m}/${k}`),
    fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => s.join('/')),
  );
  const version = fc.oneof(fc.constantFrom('1', '2', '3', '0', '-1', '01', '1.5', '999999999', '9999999999'), segment);
  const alias = fc.oneof(fc.constantFrom('champion', 'challenger', 'staging'), segment);
  const environment = fc.oneof(fc.constantFrom('staging', 'production'), segment);
  // The one pipeline valid requests may start (later ones conflict), and names around it.
  const pipelineName = `${model}-pipe`;
  const pipeline = fc.oneof(fc.constant(pipelineName), segment);
  const start = {
    model,
    repo: { url: '/srv/models/pm', ref: 'main', path: 'models/pm' },
    dataset: { path: '/data/history.csv' },
    params: { n: 1 },
    holdout: { seed: 1, fraction: 0.2 },
    key: 'k2',
    trainTimeoutMinutes: 5,
    shadow: { inputTopic: 't', stopAfter: { messages: 10 }, thresholds: { minAgreement: 0.9 } },
  };
  const get = (inputs: fc.Arbitrary<string>): fc.Arbitrary<FuzzInput> =>
    fc.tuple(inputs, strayBody).map(([url, b]) => ({ url, ...b }));

  const routes: RouteFuzz[] = [
    { method: 'GET', route: '/healthz', access: 'public', inputs: get(query(['x']).map((q) => `/healthz${q}`)) },
    { method: 'GET', route: '/readyz', access: 'public', inputs: get(query(['x']).map((q) => `/readyz${q}`)) },
    { method: 'GET', route: '/metrics', access: 'viewer', inputs: get(query(['x']).map((q) => `/metrics${q}`)) },
    ...docsRoutes.map((route): RouteFuzz => ({
      method: 'GET',
      route,
      access: 'public',
      inputs: get(
        fc
          .tuple(
            fc.oneof(fc.constantFrom('index.css', 'swagger-ui.js', '../../etc/passwd', '%2e%2e/x'), segment),
            query(['x']),
          )
          .map(([file, q]) => `${route.replace('*', file)}${q}`),
      ),
    })),
    {
      method: 'POST',
      route: '/v1/lifecycles',
      access: 'operator',
      inputs: fc.tuple(query(['x']), jsonBodies(start)).map(([q, b]) => ({ url: `/v1/lifecycles${q}`, ...b })),
    },
    {
      method: 'POST',
      route: '/v1/lifecycles/:model/:key/abort',
      access: 'operator',
      inputs: fc
        .tuple(lifecycleKey, fc.constantFrom('/abort', '/abort', '', '/x', '/abort/'), jsonBodies({ reason: 'fuzz' }))
        .map(([mk, tail, b]) => ({ url: `/v1/lifecycles/${mk}${tail}`, ...b })),
    },
    {
      method: 'GET',
      route: '/v1/lifecycles/:model/:key',
      access: 'viewer',
      inputs: get(lifecycleKey.map((mk) => `/v1/lifecycles/${mk}`)),
    },
    {
      method: 'GET',
      route: '/v1/models',
      access: 'viewer',
      inputs: get(query(['limit']).map((q) => `/v1/models${q}`)),
    },
    { method: 'GET', route: '/v1/models/:name', access: 'viewer', inputs: get(name.map((n) => `/v1/models/${n}`)) },
    {
      method: 'GET',
      route: '/v1/models/:name/versions',
      access: 'viewer',
      inputs: get(name.map((n) => `/v1/models/${n}/versions`)),
    },
    {
      method: 'GET',
      route: '/v1/models/:name/versions/:version',
      access: 'viewer',
      inputs: get(fc.tuple(name, version).map(([n, v]) => `/v1/models/${n}/versions/${v}`)),
    },
    {
      method: 'GET',
      route: '/v1/models/:name/runs',
      access: 'viewer',
      inputs: get(name.map((n) => `/v1/models/${n}/runs`)),
    },
    {
      method: 'PUT',
      route: '/v1/models/:name/aliases/:alias',
      access: 'operator',
      inputs: fc
        .tuple(name, alias, jsonBodies({ version: 1, reason: 'fuzz' }))
        .map(([n, a, b]) => ({ url: `/v1/models/${n}/aliases/${a}`, ...b })),
    },
    {
      method: 'DELETE',
      route: '/v1/models/:name/aliases/:alias',
      access: 'operator',
      inputs: fc
        .tuple(name, alias, query(['reason']), strayBody)
        .map(([n, a, q, b]) => ({ url: `/v1/models/${n}/aliases/${a}${q}`, ...b })),
    },
    {
      method: 'GET',
      route: '/v1/models/:name/history',
      access: 'viewer',
      inputs: get(
        fc
          .tuple(
            name,
            fc.oneof(
              query(['at']),
              fc
                .date({ noInvalidDate: false })
                .map((d) => `?at=${encodeURIComponent(Number.isNaN(d.getTime()) ? 'NaN' : d.toISOString())}`),
            ),
          )
          .map(([n, q]) => `/v1/models/${n}/history${q}`),
      ),
    },
    {
      method: 'GET',
      route: '/v1/runs/compare',
      access: 'viewer',
      inputs: get(
        fc
          .oneof(
            query(['ids']),
            fc
              .array(fc.oneof(fc.constant(`lifecycle/${model}/k1/train`), segment), { maxLength: 30 })
              .map((ids) => `?ids=${ids.join(',')}`),
          )
          .map((q) => `/v1/runs/compare${q}`),
      ),
    },
    {
      method: 'GET',
      route: '/v1/runs/:id',
      access: 'viewer',
      inputs: get(
        fc
          .oneof(
            lifecycleId.map((id) => encodeURIComponent(`${id}/train`)),
            lifecycleId.map(encodeURIComponent),
            lifecycleId,
          )
          .map((id) => `/v1/runs/${id}`),
      ),
    },
    {
      method: 'POST',
      route: '/v1/deployments',
      access: 'operator',
      inputs: fc
        .tuple(query(['x']), jsonBodies({ model, version: 1, environment: 'staging', key: 'd1', backend: 'process' }))
        .map(([q, b]) => ({ url: `/v1/deployments${q}`, ...b })),
    },
    {
      method: 'GET',
      route: '/v1/deployments',
      access: 'viewer',
      inputs: get(query(['model']).map((q) => `/v1/deployments${q}`)),
    },
    {
      method: 'GET',
      route: '/v1/deployments/:model/:env',
      access: 'viewer',
      inputs: get(fc.tuple(name, environment).map(([n, e]) => `/v1/deployments/${n}/${e}`)),
    },
    {
      method: 'DELETE',
      route: '/v1/deployments/:model/:env',
      access: 'operator',
      inputs: fc
        .tuple(name, environment, query(['reason']), strayBody)
        .map(([n, e, q, b]) => ({ url: `/v1/deployments/${n}/${e}${q}`, ...b })),
    },
    {
      method: 'GET',
      route: '/v1/deployments/:model/:env/deploys/:key',
      access: 'viewer',
      inputs: get(fc.tuple(name, environment, segment).map(([n, e, k]) => `/v1/deployments/${n}/${e}/deploys/${k}`)),
    },
    ...(['approve', 'reject'] as const).flatMap((action): RouteFuzz[] => [
      {
        method: 'POST',
        route: `/v1/deployments/:model/:env/deploys/:key/${action}`,
        access: 'approver',
        inputs: fc
          .tuple(name, environment, segment, jsonBodies({ comment: 'fuzz' }))
          .map(([n, e, k, b]) => ({ url: `/v1/deployments/${n}/${e}/deploys/${k}/${action}`, ...b })),
      },
      {
        method: 'POST',
        route: `/v1/lifecycles/:model/:key/${action}`,
        access: 'approver',
        inputs: fc
          .tuple(name, fc.oneof(fc.constant('k1'), segment), jsonBodies({ comment: 'fuzz' }))
          .map(([n, k, b]) => ({ url: `/v1/lifecycles/${n}/${k}/${action}`, ...b })),
      },
    ]),
    {
      method: 'POST',
      route: '/v1/models/:name/rollback',
      access: 'approver',
      inputs: fc
        .tuple(name, jsonBodies({ reason: 'fuzz', environment: 'production' }))
        .map(([n, b]) => ({ url: `/v1/models/${n}/rollback`, ...b })),
    },
    {
      method: 'GET',
      route: '/v1/models/:name/monitoring',
      access: 'viewer',
      inputs: get(name.map((n) => `/v1/models/${n}/monitoring`)),
    },
    {
      method: 'PATCH',
      route: '/v1/models/:name/monitoring',
      access: 'operator',
      inputs: fc
        .tuple(
          name,
          jsonBodies({
            intervalMinutes: 30,
            paused: false,
            input: { topic: 'sensors.live', eventTimeField: 'ts' },
            windowMinutes: 60,
            minRows: 100,
            webhook: { url: 'https://hooks.example.com/a', secretEnv: 'MLOOP_HOOK' },
            dedupeMinutes: 60,
            retraining: { mode: 'on', data: { kind: 'dataset', path: '/data/history.csv' }, cooldownMinutes: 60 },
          }),
        )
        .map(([n, b]) => ({ url: `/v1/models/${n}/monitoring`, ...b })),
    },
    {
      method: 'POST',
      route: '/v1/models/:name/drift-checks',
      access: 'operator',
      inputs: fc
        .tuple(name, jsonBodies({ environment: 'production' }))
        .map(([n, b]) => ({ url: `/v1/models/${n}/drift-checks`, ...b })),
    },
    {
      method: 'GET',
      route: '/v1/models/:name/drift-reports',
      access: 'viewer',
      inputs: get(fc.tuple(name, query(['environment', 'limit'])).map(([n, q]) => `/v1/models/${n}/drift-reports${q}`)),
    },
    ...(['', '.html'] as const).map((suffix): RouteFuzz => ({
      method: 'GET',
      route: `/v1/models/:name/drift-reports/:id${suffix}`,
      access: 'viewer',
      inputs: get(
        fc
          .tuple(name, fc.oneof(fc.constant('20261201T120000Z-0123456789ab'), segment))
          .map(([n, id]) => `/v1/models/${n}/drift-reports/${id}${suffix}`),
      ),
    })),
    {
      method: 'POST',
      route: '/v1/pipelines',
      access: 'operator',
      inputs: fc
        .tuple(query(['x']), jsonBodies(validPipeline(pipelineName)))
        .map(([q, b]) => ({ url: `/v1/pipelines${q}`, ...b })),
    },
    {
      method: 'GET',
      route: '/v1/pipelines',
      access: 'viewer',
      inputs: get(query(['x']).map((q) => `/v1/pipelines${q}`)),
    },
    {
      method: 'GET',
      route: '/v1/pipelines/:name',
      access: 'viewer',
      inputs: get(pipeline.map((n) => `/v1/pipelines/${n}`)),
    },
    {
      method: 'DELETE',
      route: '/v1/pipelines/:name',
      access: 'operator',
      inputs: fc.tuple(pipeline, strayBody).map(([n, b]) => ({ url: `/v1/pipelines/${n}-gone`, ...b })),
    },
    {
      method: 'PUT',
      route: '/v1/pipelines/:name/transforms/:transform/model',
      access: 'operator',
      inputs: fc
        .tuple(pipeline, fc.oneof(fc.constant('keep'), segment), jsonBodies({ environment: 'staging' }))
        .map(([n, t, b]) => ({ url: `/v1/pipelines/${n}/transforms/${t}/model`, ...b })),
    },
    {
      method: 'POST',
      route: '/v1/pipelines/:name/ingest/:source',
      access: 'operator',
      inputs: fc
        .tuple(pipeline, fc.oneof(fc.constant('readings'), segment), jsonBodies({ records: [{ x: 1 }] }))
        .map(([n, src, b]) => ({ url: `/v1/pipelines/${n}/ingest/${src}`, ...b })),
    },
  ];

  it('covers every route the API declares', () => {
    expect(routes.map((r) => `${r.method} ${r.route} ${r.access}`).sort()).toEqual(
      routeSamples.map((r) => `${r.method} ${r.route} ${r.access}`).sort(),
    );
  });

  it('refuses a valid start whose params nest thousands deep with a 400, starting nothing', async () => {
    const before = counted.counts.starts;
    for (const depth of [33, 5000, 100_000]) {
      const deep = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      const start = `"model":"${model}","repo":{"url":"/srv/m","ref":"main"},"dataset":{"path":"/d.csv"}`;
      const payload = `{${start},"params":{"x":${deep}}}`;
      const res = await app.inject({
        method: 'POST',
        url: '/v1/lifecycles',
        headers: { ...as('tester'), 'content-type': 'application/json' },
        payload,
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toEqual({
        error: 'InvalidInput',
        field: 'body',
        message: 'body: nests arrays and objects more than 32 levels deep',
      });
    }
    expect(counted.counts.starts).toBe(before);
  });

  const headersFor = (variant: AuthVariant, access: Role | 'public', junk: string): Record<string, string> => {
    switch (variant) {
      case 'none':
        return {};
      case 'invalid':
        return { authorization: junk };
      case 'weak role':
        return as(access === 'operator' ? 'only-viewer' : 'only-operator');
      case 'valid':
        return as(access === 'operator' ? 'only-operator' : access === 'approver' ? 'only-approver' : 'only-viewer');
    }
  };

  const junkAuthorization = fc.oneof(
    fc.string({ unit: 'grapheme-ascii', maxLength: 80 }).map((s) => `Bearer ${s}`),
    fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `Bearer mloop_${Buffer.from(b).toString('base64url')}`),
    fc.constantFrom('Bearer', 'Basic dGVzdGVyOnNlY3JldA==', 'bearer  ', `Bearer ${'x'.repeat(600)}`, 'Token abc'),
  );

  it.each(routes.map((r) => [`${r.method} ${r.route}`, r] as const))(
    'answers %s with 4xx and a JSON error to bad input, never 5xx, and changes nothing without the right token',
    async (label, route) => {
      const seen: Record<AuthVariant, Record<number, number>> = { none: {}, invalid: {}, 'weak role': {}, valid: {} };
      let sent = 0;
      await fc.assert(
        fc.asyncProperty(route.inputs, junkAuthorization, async (input, junk) => {
          sent++;
          for (const variant of authVariants) {
            const state = async () => ({
              ...counted.counts,
              moves: (await registry.aliasHistory(model)).length,
              monitoring: (await registry.getMonitoringSettings(model))?.updatedAt ?? null,
            });
            const before = await state();
            const res = await app.inject({
              method: route.method,
              url: input.url,
              headers: {
                ...headersFor(variant, route.access, junk),
                ...(input.contentType ? { 'content-type': input.contentType } : {}),
              },
              ...(input.payload !== undefined ? { payload: input.payload } : {}),
            });
            // inject() finishes each answer on a null socket whose writes complete in setImmediate; a
            // loop that only awaits promises never reaches them, and keeps every answer in memory
            // (over 5 GB for the documentation routes, which ends the test process).
            await new Promise((resolve) => setImmediate(resolve));
            seen[variant][res.statusCode] = (seen[variant][res.statusCode] ?? 0) + 1;
            const sentText = `${route.method} ${input.url.slice(0, 300)} ${String(input.payload).slice(0, 300)}`;
            const what = `${variant}: ${sentText} → ${res.statusCode} ${res.body.slice(0, 300)}`;
            expect(res.statusCode, what).toBeLessThan(500);
            if (res.statusCode >= 400) {
              expect(res.headers['content-type'], what).toMatch(/^application\/json/);
              const body = res.json<{ error: unknown; message: unknown }>();
              expect(typeof body.error, what).toBe('string');
              expect(typeof body.message, what).toBe('string');
            }
            if (variant !== 'valid' && route.access !== 'public') {
              expect(res.statusCode, what).toBeGreaterThanOrEqual(400);
              const after = await state();
              expect(after, what).toEqual(before);
            }
            if (variant === 'valid' && route.route === '/v1/pipelines' && res.statusCode === 202) {
              started.add(res.json<{ id: string }>().id);
            }
            if (variant === 'valid' && route.route === '/v1/deployments' && res.statusCode === 202) {
              started.add(res.json<{ id: string }>().id);
            }
            if (variant === 'valid' && route.route === '/v1/lifecycles' && res.statusCode === 202) {
              started.add(res.json<{ id: string }>().id);
              startedRuns.add(res.json<{ runId: string }>().runId);
            }
          }
        }),
        { numRuns: runsPerRoute, seed },
      );
      const row: Record<string, string | number> = { route: label, inputs: sent };
      for (const v of authVariants) {
        row[v] = Object.entries(seen[v])
          .sort(([a], [b]) => Number(a) - Number(b))
          .map(([s, n]) => `${s}×${n}`)
          .join(' ');
      }
      table.push(row);
      console.log(`${label}: ${sent} inputs; ${authVariants.map((v) => `${v}: ${row[v]}`).join('; ')}`);
      expect(sent).toBeGreaterThanOrEqual(runsPerRoute);
    },
    300_000,
  );

  it('started workflows only for requests with a valid operator token', async () => {
    // Every lifecycle run the server has on this test's queue is one a valid request was answered with (202).
    const listed: string[] = [];
    const query = `WorkflowType = "modelLifecycle" AND TaskQueue = "${stack.queues.control}"`;
    for await (const w of stack.client.workflow.list({ query })) listed.push(w.runId);
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.filter((runId) => !startedRuns.has(runId))).toEqual([]);
    console.log(
      `lifecycle runs on the server: ${listed.length}, each answered (202) to a valid operator token;`,
      `IDs: ${started.size}`,
    );
  });
});
