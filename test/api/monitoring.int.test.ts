import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriftSchedules } from '../../activities/drift-schedules';
import { buildApp } from '../../api/app';
import { defaultMonitoringSettings, driftScheduleId } from '../../workflows/definitions';
import { as, testAuth } from '../helpers/auth';
import { RecordingReleases } from '../helpers/recording-releases';
import { newVersion } from '../helpers/registry';
import { config, startTestStack, tempDir, type TestStack } from '../helpers/stack';

/** The monitoring routes against the real Temporal server (schedules) and a real registry. */
describe('monitoring routes (real Temporal)', () => {
  let stack: TestStack;
  let app: FastifyInstance;
  const model = `mon-${randomUUID().slice(0, 8)}`;
  const reportId = '20261201T120000Z-0123456789ab';
  const html = '<!doctype html><html><head><title>Drift report</title></head><body><h1>drift</h1></body></html>';

  beforeAll(async () => {
    stack = await startTestStack('monitoring-api', { releases: new RecordingReleases() });
    app = await buildApp({
      temporal: stack.client,
      registry: stack.deps.registry,
      artifacts: stack.deps.artifacts,
      namespace: config.temporalNamespace,
      webUiUrl: config.temporalUiUrl,
      controlTaskQueue: stack.queues.control,
      auth: testAuth,
    });
    await stack.deps.registry.registerVersion(newVersion(model, `${model}-1`));
    const file = path.join(await tempDir('monitoring-api'), 'report.html');
    await fs.writeFile(file, html);
    const stored = await stack.deps.artifacts.put(file);
    await stack.deps.registry.recordDriftReport({
      id: reportId,
      model,
      environment: 'production',
      version: 1,
      status: 'drift',
      rows: 1200,
      windowStart: '2026-12-01T11:00:00.000Z',
      windowEnd: '2026-12-01T12:00:00.000Z',
      report: { format: 'mloop.drift-report/1', status: 'drift' },
      htmlDigest: stored.digest,
      workflowId: 'drift/x/production-1',
    });
  });
  afterAll(async () => {
    await stack?.client.schedule
      .getHandle(driftScheduleId(model, 'production'))
      .delete()
      .catch(() => undefined);
    await app?.close();
    await stack?.stop();
  });

  const call = (method: 'GET' | 'PATCH' | 'POST', url: string, payload?: object, who = 'tester') =>
    app.inject({ method, url, headers: as(who), ...(payload ? { payload } : {}) });

  it('shows the defaults and no schedules before any promotion; 404 for an unknown model', async () => {
    const res = await call('GET', `/v1/models/${model}/monitoring`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      model,
      settings: defaultMonitoringSettings,
      updatedAt: null,
      updatedBy: null,
      schedules: [
        { id: `drift/${model}/staging`, environment: 'staging', exists: false },
        { id: `drift/${model}/production`, environment: 'production', exists: false },
      ],
    });
    const unknown = await call('GET', '/v1/models/no-such-model/monitoring');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ error: 'NotFound', message: 'no model "no-such-model"' });
  });

  it(
    'PATCH changes the settings and the schedule: ' + 'interval, pause and resume, input, webhook, retraining',
    async () => {
      await new DriftSchedules(stack.client, stack.queues.control).ensure(
        model,
        'production',
        defaultMonitoringSettings,
      );
      const patch = {
        intervalMinutes: 30,
        paused: true,
        input: { topic: 'sensors.live', eventTimeField: 'ts' },
        webhook: { url: 'https://hooks.example.com/mloop', secretEnv: 'MLOOP_WEBHOOK_SECRET' },
        retraining: {
          mode: 'on',
          data: { kind: 'topic', topic: 'sensors.labelled', lookbackMinutes: 1440 },
          cooldownMinutes: 120,
        },
      };
      const res = await call('PATCH', `/v1/models/${model}/monitoring`, patch, 'only-operator');
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json<{ settings: object; updatedBy: string; schedules: Array<Record<string, unknown>> }>();
      expect(body.settings).toEqual({ ...defaultMonitoringSettings, ...patch });
      expect(body.updatedBy).toBe('only-operator');
      expect(body.schedules[1]).toMatchObject({
        exists: true,
        paused: true,
        intervalMinutes: 30,
        note: 'paused through the API',
      });
      expect(body.schedules[0]).toMatchObject({ exists: false });

      const resumed = await call('PATCH', `/v1/models/${model}/monitoring`, { paused: false, webhook: null });
      expect(resumed.statusCode, resumed.body).toBe(200);
      const after = resumed.json<{ settings: Record<string, unknown>; schedules: Array<Record<string, unknown>> }>();
      expect(after.settings.webhook).toBeUndefined();
      expect(after.settings.input).toEqual(patch.input);
      expect(after.schedules[1]).toMatchObject({ exists: true, paused: false, intervalMinutes: 30 });
      expect(after.schedules[1]?.nextRuns).toHaveLength(3);
    },
  );

  it.each([
    [{ intervalMinutes: 0 }, 'body.intervalMinutes'],
    [{ intervalMinutes: 1.5 }, 'body.intervalMinutes'],
    [{ windowMinutes: -1 }, 'body.windowMinutes'],
    [{ minRows: 'many' }, 'body.minRows'],
    [{ paused: 'yes' }, 'body.paused'],
    [{ input: { topic: 'a b', eventTimeField: 'ts' } }, 'body.input.topic'],
    [{ input: { topic: 't' } }, 'body.input.eventTimeField'],
    [{ webhook: { url: 'ftp://hooks.example.com', secretEnv: 'S' } }, 'body.webhook.url'],
    [{ webhook: { url: 'http://hooks.example.com', secretEnv: 'S' } }, 'body.webhook.url'],
    [{ webhook: { url: 'https://u:p@hooks.example.com', secretEnv: 'S' } }, 'body.webhook.url'],
    [{ webhook: { url: 'https://hooks.example.com', secretEnv: 'not a name' } }, 'body.webhook.secretEnv'],
    [{ retraining: { mode: 'sometimes' } }, 'body.retraining.mode'],
    [{ retraining: { mode: 'on', data: null } }, 'body.retraining.data'],
    [{ retraining: { data: { kind: 'dataset', path: 'relative.csv' } } }, 'body.retraining.data.path'],
    [{ unknown: 1 }, 'body.unknown'],
  ])('PATCH %j is refused naming %s, and changes nothing', async (payload, field) => {
    const before = (await call('GET', `/v1/models/${model}/monitoring`)).json<{ settings: unknown }>().settings;
    const res = await call('PATCH', `/v1/models/${model}/monitoring`, payload);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: 'InvalidInput', field });
    expect((await call('GET', `/v1/models/${model}/monitoring`)).json<{ settings: unknown }>().settings).toEqual(
      before,
    );
  });

  it('a retraining policy that is on needs fresh data', async () => {
    const fresh = `mon-${randomUUID().slice(0, 8)}`;
    await stack.deps.registry.registerVersion(newVersion(fresh, `${fresh}-1`));
    const res = await call('PATCH', `/v1/models/${fresh}/monitoring`, { retraining: { mode: 'on' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: 'InvalidInput',
      field: 'body.retraining.data',
      message: 'body.retraining.data: a retraining policy that is on needs fresh data: a topic or a dataset',
    });
  });

  it('roles: viewers read, operators change and run checks; no token is 401', async () => {
    expect((await call('GET', `/v1/models/${model}/monitoring`, undefined, 'only-viewer')).statusCode).toBe(200);
    expect((await call('PATCH', `/v1/models/${model}/monitoring`, { paused: true }, 'only-viewer')).statusCode).toBe(
      403,
    );
    expect((await call('POST', `/v1/models/${model}/drift-checks`, {}, 'only-approver')).statusCode).toBe(403);
    const anonymous = await app.inject({ method: 'GET', url: `/v1/models/${model}/drift-reports` });
    expect(anonymous.statusCode).toBe(401);
  });

  it('POST drift-checks runs a check now: nothing deployed is a skipped check, not an error', async () => {
    const res = await call('POST', `/v1/models/${model}/drift-checks`, { environment: 'staging' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      model,
      environment: 'staging',
      status: 'skipped',
      reason: 'nothing is deployed to staging',
    });
    expect(res.json<{ id: string }>().id).toMatch(new RegExp(`^drift/${model}/staging/now-`));
    expect((await call('POST', '/v1/models/no-such-model/drift-checks', {})).statusCode).toBe(404);
    const bad = await call('POST', `/v1/models/${model}/drift-checks`, { environment: 'qa' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ field: 'body.environment' });
  });

  it('lists reports, serves one as JSON and its page as HTML; 404 and 400 for unknown and malformed IDs', async () => {
    const list = await call('GET', `/v1/models/${model}/drift-reports?environment=production&limit=5`);
    expect(list.statusCode, list.body).toBe(200);
    expect(
      list
        .json<{ reports: Array<{ id: string; status: string; rows: number }> }>()
        .reports.map((r) => [r.id, r.status, r.rows]),
    ).toEqual([[reportId, 'drift', 1200]]);
    expect((await call('GET', `/v1/models/${model}/drift-reports?environment=staging`)).json()).toEqual({
      reports: [],
    });
    const one = await call('GET', `/v1/models/${model}/drift-reports/${reportId}`);
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({ id: reportId, report: { format: 'mloop.drift-report/1', status: 'drift' } });
    const page = await call('GET', `/v1/models/${model}/drift-reports/${reportId}.html`);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toMatch(/^default-src 'none'/);
    expect(page.body).toBe(html);
    const missing = '20261201T120000Z-ffffffffffff';
    for (const url of [
      `/v1/models/${model}/drift-reports/${missing}`,
      `/v1/models/${model}/drift-reports/${missing}.html`,
    ]) {
      const res = await call('GET', url);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: 'NotFound', message: `model "${model}" has no drift report "${missing}"` });
    }
    expect((await call('GET', `/v1/models/${model}/drift-reports/..%2Fsecrets`)).statusCode).toBe(400);
    expect((await call('GET', '/v1/models/no-such-model/drift-reports')).statusCode).toBe(404);
    expect((await call('GET', `/v1/models/${model}/drift-reports?limit=0`)).statusCode).toBe(400);
  });
});
