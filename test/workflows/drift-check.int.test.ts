import { createServer, type Server } from 'node:http';
import path from 'node:path';
import type { ScheduleHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historicalRows } from '../../examples/predictive-maintenance/data/sensors';
import { sign, signatureHeader } from '../../core/connectors/webhook-sink';
import { ProcessRuntime } from '../../core/deploy/process-runtime';
import { ServingReleases } from '../../core/deploy/releases';
import type { ConsumedRecord } from '../../core/kafka/adapter';
import type { Alert } from '../../core/monitoring/alerts';
import { runnerAccount } from '../../core/security/runner-account';
import {
  driftScheduleId,
  statusQuery,
  type DriftCheckResult,
  type LifecycleResult,
  type MonitoringSettings,
} from '../../workflows/definitions';
import { buildApp } from '../../api/app';
import { as, testAuth } from '../helpers/auth';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { startTestProxy, type TestProxy } from '../helpers/proxy';
import { config, startTestStack, testNames, type TestStack } from '../helpers/stack';
import { until } from '../helpers/until';

const shift = { temperature_c: 15, vibration_mm_s: 3, rpm: 400 };
const secretEnv = 'MLOOP_TEST_DRIFT_WEBHOOK_SECRET';
const secret = 'a-test-secret-for-drift-alerts';

/**
 * Acceptance of the monitoring stage: the example model, trained by a lifecycle and promoted by
 * the deploy workflow to model-server processes behind HAProxy, is watched by its schedule. Live
 * records on the deployment's input topic, by event time, decide the verdict.
 */
describe('drift checks of the example model in production (real stack)', () => {
  let stack: TestStack;
  let proxy: TestProxy;
  let webhook: Server;
  let webhookUrl = '';
  const received: Array<{ body: string; signature: string | undefined; status: number }> = [];
  const names = testNames('drift-check');
  const model = `pm-drift-${names.prefix.slice(-8)}`;
  const alertsTopic = `${names.prefix}-alerts`;
  let schedule: ScheduleHandle;
  let dataset: string;

  beforeAll(async () => {
    process.env[secretEnv] = secret;
    proxy = await startTestProxy('drift-check');
    const account = await runnerAccount(config.runnerUser);
    const late: { releases?: ServingReleases } = {};
    stack = await startTestStack('drift-check', {
      alertsTopic,
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
      drainTimeoutMs: 2_000,
    });
    await stack.deps.kafka.ensureTopic(alertsTopic, 1);
    // The webhook refuses its first delivery with a 503: the alert must come again, signed.
    webhook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = received.length === 0 ? 503 : 200;
        received.push({
          body: Buffer.concat(chunks).toString(),
          signature: req.headers[signatureHeader] as string | undefined,
          status,
        });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    const address = webhook.address();
    webhookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/alerts`;

    // v1 of the example, trained and registered by a lifecycle, then promoted by the deploy workflow.
    const repo = await createExampleModelRepo();
    dataset = await createExampleDataset(3000, 42);
    const lifecycle = await stack.client.workflow.start('modelLifecycle', {
      workflowId: `lifecycle/${model}/first`,
      taskQueue: stack.queues.control,
      args: [
        {
          model,
          repo: { url: repo.url, ref: 'main', path: repo.path },
          dataset: { path: dataset },
          requestedBy: 'olivia',
          trainTaskQueue: stack.queues.train,
          streamTaskQueue: stack.queues.stream,
        },
      ],
    });
    const trained = ((await lifecycle.result()) as LifecycleResult).train!;
    const v = await stack.deps.registry.getVersion(model, trained.version);
    expect(v.profileDigest).toMatch(/^sha256:/);
    await (
      await stack.client.workflow.start('deployModel', {
        workflowId: `deploy/${model}/production/first`,
        taskQueue: stack.queues.control,
        args: [
          {
            model,
            version: {
              version: v.version,
              commitSha: v.commitSha,
              repoUrl: v.repoUrl,
              repoPath: v.repoPath,
              artifactDigest: v.artifactDigest,
            },
            environment: 'production',
            requestedBy: 'olivia',
            preApproved: { approved: true, by: 'ada', at: new Date().toISOString() },
            deployTaskQueue: stack.queues.control,
          },
        ],
      })
    ).result();
    schedule = stack.client.schedule.getHandle(driftScheduleId(model, 'production'));
  }, 600_000);

  afterAll(async () => {
    await schedule?.delete().catch(() => undefined);
    // A retraining left running by a failed assertion would wait for workers that are gone.
    const running = stack?.client.workflow.list({
      query: `ExecutionStatus = "Running" AND WorkflowId STARTS_WITH "lifecycle/${model}/"`,
    });
    for await (const w of running ?? [])
      await stack.client.workflow
        .getHandle(w.workflowId, w.runId)
        .terminate('test done')
        .catch(() => undefined);
    await stack?.deps.releases.retire(model, 'production').catch(() => undefined);
    await stack?.deps.releases.retire(model, 'staging').catch(() => undefined);
    await stack?.stop();
    await proxy?.destroy();
    await new Promise((r) => webhook?.close(r));
    delete process.env[secretEnv];
  });

  const settings = (s: Partial<MonitoringSettings>) =>
    stack.deps.registry.updateMonitoringSettings(model, 'olivia', () => s);

  /** Records like the training data (another seed), stamped with event times within the last minutes. */
  async function feed(
    topic: string,
    rows: number,
    seed: number,
    by: Partial<Record<string, number>> = {},
  ): Promise<void> {
    await stack.deps.kafka.ensureTopic(topic, 2);
    const now = Date.now();
    const records = [...historicalRows(rows, seed)].map((r, i) => {
      const value: Record<string, unknown> = { ...r, event_time: new Date(now - 60_000 + i).toISOString() };
      for (const [column, amount] of Object.entries(by)) value[column] = Number(value[column]) + (amount ?? 0);
      return { key: `k-${i}`, value: JSON.stringify(value) };
    });
    // Records outside the window (an hour and a half ago) must not count.
    records.push({
      key: 'old',
      value: JSON.stringify({
        ...historicalRows(1, 1).next().value,
        event_time: new Date(now - 90 * 60_000).toISOString(),
      }),
    });
    records.push({ key: 'bad', value: 'not json' });
    await stack.deps.kafka.produce(topic, records);
  }

  /**
   * Triggers the schedule `times` times, 1.5 s apart (its workflow IDs carry the second), so the
   * checks run at the same time; returns their results.
   */
  async function triggered(times: number): Promise<DriftCheckResult[]> {
    const before = new Set((await schedule.describe()).info.recentActions.map((a) => a.action.workflow.workflowId));
    for (let i = 0; i < times; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1500));
      await schedule.trigger();
    }
    const ids = await until(
      'the schedule to start its checks',
      async () => {
        const fresh = (await schedule.describe()).info.recentActions
          .map((a) => a.action.workflow.workflowId)
          .filter((id) => !before.has(id));
        return fresh.length >= times ? fresh : undefined;
      },
      60_000,
    );
    const results = await Promise.all(
      ids.map((id) => stack.client.workflow.getHandle(id).result() as Promise<DriftCheckResult>),
    );
    if (times > 1) {
      // They did run at the same time: each started before the other closed.
      const runs = await Promise.all(ids.map((id) => stack.client.workflow.getHandle(id).describe()));
      const [first, last] = [
        runs.map((r) => r.startTime.getTime()),
        runs.map((r) => r.closeTime?.getTime() ?? Infinity),
      ];
      expect(Math.max(...first)).toBeLessThan(Math.min(...last));
    }
    return results;
  }

  async function alerts(): Promise<Alert[]> {
    const out: ConsumedRecord[] = [];
    const ranges = (await stack.deps.kafka.partitionOffsets(alertsTopic)).map((p) => ({
      partition: p.partition,
      from: p.low,
      to: p.high,
    }));
    await stack.deps.kafka.readRanges(
      alertsTopic,
      ranges.filter((r) => r.to !== r.from),
      async (batch) => void out.push(...batch),
    );
    return out.map((r) => JSON.parse(r.value) as Alert);
  }

  it('was scheduled at promotion: every 15 minutes, overlaps skipped', async () => {
    const d = await schedule.describe();
    expect(d.state.paused).toBe(false);
    expect(d.spec.intervals?.map((i) => i.every)).toEqual([15 * 60_000]);
    expect(d.policies.overlap).toBe('SKIP');
  });

  it('unshifted live data: no drift, no alert, no retraining', async () => {
    const topic = `${names.prefix}-live-same`;
    await feed(topic, 1200, 7);
    await settings({
      input: { topic, eventTimeField: 'event_time' },
      retraining: { mode: 'on', data: { kind: 'dataset', path: dataset }, cooldownMinutes: 60 },
      webhook: { url: webhookUrl, secretEnv },
    });
    const [result] = await triggered(1);
    expect(result).toMatchObject({
      model,
      environment: 'production',
      status: 'no_drift',
      version: 1,
      rows: 1200,
      unreadable: 1,
      driftedFeatures: [],
      alerts: [],
    });
    expect(result?.retraining).toBeUndefined();
    const stored = await stack.deps.registry.getDriftReport(model, result!.reportId!);
    expect(stored).toMatchObject({ status: 'no_drift', rows: 1200, version: 1, environment: 'production' });
    expect(await stack.deps.artifacts.has(stored.htmlDigest)).toBe(true);
    expect(await alerts()).toEqual([]);
    expect(received).toEqual([]);
  });

  it(
    'shifted live data: drift on exactly the shifted features, ' + 'one alert, one retraining lifecycle for two checks',
    async () => {
      const topic = `${names.prefix}-live-shifted`;
      await feed(topic, 1200, 8, shift);
      await settings({
        input: { topic, eventTimeField: 'event_time' },
        retraining: { mode: 'on', data: { kind: 'dataset', path: dataset }, cooldownMinutes: 60 },
        webhook: { url: webhookUrl, secretEnv },
      });
      const results = await triggered(2);
      for (const r of results) {
        expect(r.status).toBe('drift');
        expect(r.rows).toBe(1200);
        expect(r.driftedFeatures).toEqual(['temperature_c', 'vibration_mm_s', 'rpm']);
      }
      // One check published the alert; the other found it within its dedupe window.
      expect(results.flatMap((r) => r.alerts ?? [])).toEqual([`${model}/production/1/data_drift/features`]);
      const published = await alerts();
      expect(published.map((a) => [a.type, a.severity, a.subject, a.version])).toEqual([
        ['data_drift', 'critical', 'features', 1],
      ]);
      expect(published[0]?.details.features).toEqual(['temperature_c', 'vibration_mm_s', 'rpm']);

      // The webhook got it signed, after one refused attempt.
      await until(
        'the webhook delivery',
        async () => (received.some((d) => d.status === 200) ? true : undefined),
        10_000,
      );
      expect(received.map((d) => d.status)).toEqual([503, 200]);
      for (const d of received) expect(d.signature).toBe(sign(secret, d.body));
      expect(JSON.parse(received[1]!.body)).toMatchObject({ type: 'data_drift', dedupeKey: published[0]?.dedupeKey });

      // Both checks name the same retraining; exactly one of them started it.
      const ids = new Set(results.map((r) => r.retraining?.workflowId));
      expect(ids.size).toBe(1);
      const [workflowId] = [...ids];
      expect(workflowId).toMatch(new RegExp(`^lifecycle/${model}/drift-production-v1-\\d{8}T\\d{6}Z$`));
      expect(results.filter((r) => r.retraining?.started).length).toBe(1);
      const episodes = await stack.deps.registry.db
        .selectFrom('retraining_episodes')
        .selectAll()
        .where('model', '=', model)
        .execute();
      expect(episodes.map((e) => e.workflow_id)).toEqual([workflowId]);

      // It is a lifecycle like any other: it trains, stages, and waits for a human approval.
      const lifecycle = stack.client.workflow.getHandle(workflowId!);
      const waiting = await until(
        'the retraining to wait for approval',
        async () => {
          const s = await lifecycle.query(statusQuery);
          if (s.stage === 'done' || s.error) throw new Error(`the retraining ended early: ${JSON.stringify(s)}`);
          return s.stage === 'awaiting-approval' ? s : undefined;
        },
        300_000,
      );
      expect(waiting.version).toBe(2);
      const started = await stack.client.workflow.list({
        query: `WorkflowType = "modelLifecycle" AND WorkflowId STARTS_WITH "lifecycle/${model}/drift-"`,
      });
      const lifecycles: string[] = [];
      for await (const w of started) lifecycles.push(w.workflowId);
      expect(lifecycles).toEqual([workflowId]);
      await lifecycle.terminate('test done');

      // A third check within the cool-down and the dedupe window: drift again, nothing new.
      const [third] = await triggered(1);
      expect(third).toMatchObject({ status: 'drift', alerts: [], retraining: { workflowId, started: false } });
      expect(await alerts()).toHaveLength(1);
    },
  );

  it('too few records in the window: an "insufficient data" report, not a verdict', async () => {
    const topic = `${names.prefix}-live-few`;
    await feed(topic, 40, 9, shift);
    await settings({ input: { topic, eventTimeField: 'event_time' } });
    const handle = await stack.client.workflow.start('driftCheck', {
      workflowId: `${driftScheduleId(model, 'production')}/now-few`,
      taskQueue: stack.queues.control,
      args: [{ model, environment: 'production', requestedBy: 'olivia' }],
    });
    const result = (await handle.result()) as DriftCheckResult;
    expect(result).toMatchObject({ status: 'insufficient_data', rows: 40, driftedFeatures: [], alerts: [] });
    const stored = await stack.deps.registry.getDriftReport(model, result.reportId!);
    const report = stored.report as { dataset_drift: { drift: boolean | null }; findings: Array<{ type: string }> };
    expect(report.dataset_drift.drift).toBeNull();
    expect(report.findings.map((f) => f.type)).toEqual(['insufficient_data']);
  });

  it(
    'through the API: a check run now answers its result and links its page; ' +
      'a webhook without its secret is a 409',
    async () => {
      const app = await buildApp({
        temporal: stack.client,
        registry: stack.deps.registry,
        artifacts: stack.deps.artifacts,
        namespace: config.temporalNamespace,
        webUiUrl: config.temporalUiUrl,
        controlTaskQueue: stack.queues.control,
        auth: testAuth,
      });
      try {
        const patch = (payload: object) =>
          app.inject({ method: 'PATCH', url: `/v1/models/${model}/monitoring`, headers: as('tester'), payload });
        const run = () =>
          app.inject({ method: 'POST', url: `/v1/models/${model}/drift-checks`, headers: as('tester'), payload: {} });
        expect(
          (await patch({ webhook: { url: webhookUrl, secretEnv: 'MLOOP_TEST_SECRET_NOBODY_SET' } })).statusCode,
        ).toBe(200);
        const refused = await run();
        expect(refused.statusCode, refused.body).toBe(409);
        expect(refused.json<{ message: string }>().message).toMatch(
          new RegExp(
            /failed \(InvalidInput\): webhook\.secretEnv: /.source +
              /the worker's environment has no MLOOP_TEST_SECRET_NOBODY_SET to sign alerts with$/.source,
          ),
        );
        expect((await patch({ webhook: null })).statusCode).toBe(200);
        const res = await run();
        expect(res.statusCode, res.body).toBe(200);
        const result = res.json<DriftCheckResult & { links: { html: string } }>();
        expect(result).toMatchObject({ status: 'insufficient_data', rows: 40, version: 1 });
        const page = await app.inject({ method: 'GET', url: result.links.html, headers: as('tester') });
        expect(page.statusCode).toBe(200);
        expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(page.body).toMatch(/^<!DOCTYPE html>[\s\S]*<title>Drift report: /);
        const monitoring = await app.inject({
          method: 'GET',
          url: `/v1/models/${model}/monitoring`,
          headers: as('tester'),
        });
        const production = monitoring.json<{ schedules: Array<{ environment: string; recentRuns: unknown[] }> }>()
          .schedules[1];
        expect(production).toMatchObject({
          environment: 'production',
          exists: true,
          paused: false,
          intervalMinutes: 15,
        });
        expect(production?.recentRuns.length).toBeGreaterThanOrEqual(4);
      } finally {
        await app.close();
      }
    },
  );
});
