import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historicalRows } from '../../examples/predictive-maintenance/data/sensors';
import { ProcessRuntime } from '../../core/deploy/process-runtime';
import { ServingReleases } from '../../core/deploy/releases';
import { runnerAccount } from '../../core/security/runner-account';
import {
  searchAttributes,
  statusQuery,
  type DeployModelResult,
  type LifecycleResult,
} from '../../workflows/definitions';
import { as } from '../helpers/auth';
import { binaryInfer, features } from '../helpers/deployment';
import { buildTestApp, startLifecycle } from '../helpers/lifecycle';
import { continuousRequests } from '../helpers/load';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { startTestProxy, type TestProxy } from '../helpers/proxy';
import { config, startTestStack, testNames, type TestStack } from '../helpers/stack';
import { until } from '../helpers/until';
import { encodeInputs } from '../../core/serving/v2-tensors';

// Predicts like the example, but refuses a single row: training scores a whole holdout and
// passes, while the deploy's one-row smoke inference fails.
const predictRefusingOneRow = `from typing import Any

import pandas as pd


def predict(model: Any, X: pd.DataFrame) -> dict[str, Any]:
    if len(X) == 1:
        raise RuntimeError("this build cannot score a single row")
    return {"predictions": model.predict(X), "probabilities": model.predict_proba(X)}
`;

const rows = [...historicalRows(8, 3)];
const infer = (url: string, model: string): Promise<Response> =>
  fetch(`${url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: encodeInputs(rows, features) }),
  });
const servedVersion = async (url: string, model: string): Promise<string | undefined> =>
  ((await (await infer(url, model)).json()) as { model_version?: string }).model_version;

/**
 * The whole deploy stage on real servers: lifecycles train the example model, shadow-test it on a
 * live topic, deploy it to staging as model-server processes behind HAProxy, wait for an approval
 * through the API, and swap production blue/green while requests keep flowing.
 */
describe('deploying the example model on the process backend behind HAProxy (real stack)', () => {
  let stack: TestStack;
  let app: FastifyInstance;
  let proxy: TestProxy;
  const model = 'pm-serving';

  beforeAll(async () => {
    proxy = await startTestProxy('deploy-serving');
    const names = testNames('deploy-serving');
    const account = await runnerAccount(config.runnerUser);
    // The release manager needs the stack's git and artifacts; the stack needs the manager first.
    const late: { releases?: ServingReleases } = {};
    stack = await startTestStack('deploy-serving', {
      releases: {
        start: (...a) => late.releases!.start(...a),
        check: (...a) => late.releases!.check(...a),
        route: (...a) => late.releases!.route(...a),
        stop: (...a) => late.releases!.stop(...a),
        find: (...a) => late.releases!.find(...a),
        retire: (...a) => late.releases!.retire(...a),
      },
    });
    late.releases = new ServingReleases({
      proxy: proxy.proxy,
      runtimes: {
        process: new ProcessRuntime({
          root: path.join(stack.deps.workDir, 'deployments'),
          scope: names.prefix.replace(/[^a-z0-9]/g, '').slice(-16),
          python: config.pythonExecutable,
          runtimeDir: config.runtimeDir,
          account,
        }),
      },
      git: stack.deps.git,
      artifacts: stack.deps.artifacts,
      workDir: stack.deps.workDir,
      drainTimeoutMs: 5_000,
    });
    app = await buildTestApp(stack);
  });
  afterAll(async () => {
    await stack?.deps.releases.retire(model, 'production').catch(() => undefined);
    await stack?.deps.releases.retire(model, 'staging').catch(() => undefined);
    await app?.close();
    await stack?.stop();
    await proxy?.destroy();
  });

  /** Starts a lifecycle that trains, shadow-tests on a fed topic and deploys; returns it waiting for approval. */
  async function lifecycleAwaitingApproval(repo: { url: string; path: string }, params: object): Promise<string> {
    const topic = `${model}-live-${Date.now()}`;
    await stack.deps.kafka.ensureTopic(topic, 1);
    const id = await startLifecycle(app, {
      model,
      repo: { url: repo.url, ref: 'main', path: repo.path },
      dataset: { path: await createExampleDataset(1500) },
      params,
      shadow: { inputTopic: topic, stopAfter: { messages: 40 }, thresholds: { minMessages: 40 } },
      deploy: { promotion: { timeoutSeconds: 3600 } },
    });
    const handle = stack.client.workflow.getHandle(id);
    await until(
      'the shadow stage',
      async () => ((await handle.query(statusQuery)).stage === 'shadow' ? true : undefined),
      180_000,
    );
    const live = [...historicalRows(40, 9)].map((r, i) => ({ key: `m-${i}`, value: JSON.stringify(r) }));
    // The shadow test reads from the latest offset it pinned; feed until it has its 40 messages.
    await until(
      'the shadow test to score its messages',
      async () => {
        await stack.deps.kafka.produce(topic, live);
        return (await handle.query(statusQuery)).stage !== 'shadow' ? true : undefined;
      },
      180_000,
    );
    step(`${id}: shadow done`);
    await until(
      'the approval gate',
      async () => ((await handle.query(statusQuery)).stage === 'awaiting-approval' ? true : undefined),
      180_000,
    );
    return id;
  }

  const t0 = Date.now();
  const step = (what: string): void =>
    console.log(`[deploy-serving] ${what} at ${Math.round((Date.now() - t0) / 1000)} s`);

  const approve = async (id: string): Promise<void> => {
    const [, m, key] = id.split('/');
    const res = await app.inject({
      method: 'POST',
      url: `/v1/lifecycles/${m}/${key}/approve`,
      headers: as('only-approver'),
      payload: { comment: 'ok' },
    });
    expect(res.statusCode, res.body).toBe(200);
  };

  it(
    'train → shadow → staging → approval → production; ' +
      'blue/green to v2 with zero failed requests; a bad smoke rolls back',
    async () => {
      const repo = await createExampleModelRepo();

      step('v1');
      // v1: the first production deployment.
      const first = await lifecycleAwaitingApproval(repo, { n_estimators: 20 });
      const staged = (await stack.client.workflow.getHandle(first).query(statusQuery)).deploy;
      expect(staged?.endpoints.staging).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await servedVersion(staged!.endpoints.staging!, model)).toBe('1');
      await approve(first);
      const r1 = (await stack.client.workflow.getHandle(first).result()) as LifecycleResult;
      expect(r1.stage).toBe('production');
      const endpoint = r1.deployment!.endpoints.production!;
      expect(await servedVersion(endpoint, model)).toBe('1');
      expect((await binaryInfer(endpoint, model)).version).toBe('1');
      const d1 = await stack.client.workflow.getHandle(first).describe();
      expect(d1.typedSearchAttributes.get(searchAttributes.stage)).toBe('production');

      step('v2');
      // v2: blue/green under continuous load through the stable endpoint.
      const second = await lifecycleAwaitingApproval(repo, { n_estimators: 30 });
      const load = continuousRequests(() => infer(endpoint, model), { workers: 4 });
      await until('requests flowing', async () => (load.report.sent > 20 ? true : undefined));
      await approve(second);
      const r2 = (await stack.client.workflow.getHandle(second).result()) as LifecycleResult;
      await until('v2 answering', async () => ((load.report.byVersion['2'] ?? 0) > 20 ? true : undefined));
      const report = await load.stop();
      console.log(
        `blue/green v1 → v2: ${report.sent} requests sent, ${report.failed} failed, ` +
          `by version ${JSON.stringify(report.byVersion)}`,
      );
      expect(report.failures).toEqual([]);
      expect(report.failed).toBe(0);
      expect(report.byVersion['1']).toBeGreaterThan(0);
      expect(r2.deployment).toMatchObject({
        outcome: 'production',
        previousVersion: 1,
        endpoints: { production: endpoint },
      });
      const production = await stack.deps.releases.find(model, 'production', 1);
      expect(production).toBeNull(); // the old release was stopped after the switch

      step('v3');
      // v3 fails its smoke inference in production: v2 keeps serving, the alias stays on v2.
      const broken = await createExampleModelRepo({ 'predict.py': predictRefusingOneRow });
      const train3 = await startLifecycle(app, {
        model,
        repo: { url: broken.url, ref: 'main', path: broken.path },
        dataset: { path: await createExampleDataset(1500) },
      });
      const r3 = (await stack.client.workflow.getHandle(train3).result()) as LifecycleResult;
      const v3 = r3.train!;
      const handle = await stack.client.workflow.start('deployModel', {
        workflowId: `deploy/${model}/production/broken-${Date.now()}`,
        taskQueue: stack.queues.control,
        args: [
          {
            model,
            version: {
              version: v3.version,
              commitSha: v3.commitSha,
              repoUrl: broken.url,
              repoPath: broken.path,
              artifactDigest: v3.artifactDigest,
            },
            environment: 'production',
            requestedBy: 'tester',
            preApproved: { approved: true, by: 'only-approver', at: new Date().toISOString() },
          },
        ],
      });
      const failed = await handle.result().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect((failed?.cause as Error | undefined)?.message).toMatch(
        /rolled back: smoke inference on .* failed: 4\d\d|rolled back: smoke inference on .* failed: 5\d\d/,
      );
      expect(await servedVersion(endpoint, model)).toBe('2');
      expect(await stack.deps.registry.getAliases(model)).toMatchObject({ champion: 2 });
      expect(await stack.deps.releases.find(model, 'production', v3.version)).toBeNull();
      const events = (await stack.deps.registry.listDeploymentEvents(model, 'production')).map((e) => [
        e.version,
        e.outcome,
        e.by,
      ]);
      expect(events).toEqual([
        [1, 'production', 'only-approver'],
        [2, 'production', 'only-approver'],
        [v3.version, 'rolled-back', 'only-approver'],
      ]);
      const result = (await stack.client.workflow.getHandle(second).result()) as { deployment: DeployModelResult };
      expect(result.deployment.approval?.decision?.by).toBe('only-approver');
    },
    600_000,
  );
});
