import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { DriftCheckView, ReportList } from '../../api/schemas/monitoring';
import { PipelineList, PipelineStarted, PipelineStatusResponse } from '../../api/schemas/pipelines';
import { runCli } from '../helpers/cli';
import { tempDir } from '../helpers/stack';

interface Seen {
  method: string;
  url: string;
  body: unknown;
  auth: string | undefined;
}

/**
 * The requests each command sends, against a small recording server: the paths and bodies of
 * routes the CLI calls (pipelines and drift included), and that --json prints the answer as is.
 */
const pipelineStatus = {
  id: 'pipeline/alerts',
  status: 'RUNNING',
  name: 'alerts',
  state: 'running',
  guarantee: 'at-least-once',
  startedAt: '2026-12-01T00:00:00Z',
  topics: ['alerts.in', 'alerts.out'],
  transforms: [
    {
      kind: 'transform',
      name: 'keep',
      replica: 0,
      state: 'running',
      restarts: 1,
      counts: { in: 10, out: 4 },
      partitions: [{ partition: 0, committed: '10', highWatermark: '12', lag: 2 }],
      messagesPerSecond: 3,
      errors: 0,
      lastError: null,
      updatedAt: '2026-12-01T00:00:01Z',
    },
  ],
};

/** The API's own response schemas, so the answers here are shaped as the real ones are. */
const schemaOf: Record<string, TSchema> = {
  'GET /v1/pipelines': PipelineList,
  'GET /v1/pipelines/alerts': PipelineStatusResponse,
  'POST /v1/pipelines': PipelineStarted,
  'DELETE /v1/pipelines/alerts': PipelineStatusResponse,
  'POST /v1/models/pm/drift-checks': DriftCheckView,
  'GET /v1/models/pm/drift-reports': ReportList,
};

describe('the CLI sends each command to its route', () => {
  let server: http.Server;
  let url: string;
  let dir: string;
  const seen: Seen[] = [];
  const answers: Record<string, unknown> = {
    'GET /v1/pipelines': { pipelines: [{ name: 'alerts', id: 'pipeline/alerts', startedAt: '2026-12-01T00:00:00Z' }] },
    'GET /v1/pipelines/alerts': pipelineStatus,
    'POST /v1/pipelines': {
      id: 'pipeline/alerts',
      name: 'alerts',
      runId: 'r-1',
      topics: ['alerts.in', 'alerts.out'],
      links: { self: '/v1/pipelines/alerts' },
    },
    'DELETE /v1/pipelines/alerts': { ...pipelineStatus, status: 'COMPLETED', state: 'stopped' },
    'POST /v1/models/pm/drift-checks': {
      id: 'drift/pm/production/1',
      model: 'pm',
      environment: 'production',
      status: 'drift',
      version: 3,
      rows: 900,
      driftedFeatures: ['rpm'],
      alerts: ['pm/production/3/dataset_drift'],
      links: { report: '/v1/models/pm/drift-reports/r1', html: '/v1/models/pm/drift-reports/r1.html' },
    },
    'GET /v1/models/pm/drift-reports': {
      reports: [
        {
          id: 'r1',
          model: 'pm',
          environment: 'production',
          version: 3,
          status: 'drift',
          rows: 900,
          windowStart: '2026-11-30T23:00:00Z',
          windowEnd: '2026-12-01T00:00:00Z',
          htmlDigest: 'sha256:00',
          workflowId: 'drift/pm/production/1',
          createdAt: '2026-12-01T00:00:00Z',
        },
      ],
    },
    'POST /v1/models/pm/rollback': { id: 'deploy/pm/production/rb', from: 3, to: 2 },
    'POST /v1/deployments': { id: 'deploy/pm/staging/k', links: { self: '/v1/deployments/pm/staging/deploys/k' } },
    'POST /v1/lifecycles/pm/k1/approve': { by: 'ada', at: '2026-12-01T00:00:00Z', approved: true },
    'POST /v1/deployments/pm/production/deploys/k2/reject': { by: 'ada', at: '2026-12-01T00:00:00Z', approved: false },
  };

  beforeAll(async () => {
    dir = await tempDir('cli-requests');
    server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        seen.push({
          method: req.method!,
          url: req.url!,
          body: text ? JSON.parse(text) : undefined,
          auth: req.headers.authorization,
        });
        const answer = answers[`${req.method} ${req.url}`];
        res.writeHead(answer ? 200 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer ?? { error: 'NotFound', message: `no route ${req.method} ${req.url}` }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const cli = (args: string[]) =>
    runCli(args, { MLOOP_DATA: dir, MLOOP_API_URL: url, MLOOP_TOKEN: 'mloop_test-token-0000000000' });
  const last = (): Seen => seen.at(-1)!;

  it('answers as the API does: each pipelines and drift answer passes its route response schema', () => {
    for (const [route, schema] of Object.entries(schemaOf)) {
      expect(
        [...Value.Errors(schema, answers[route])].map((e) => `${e.path} ${e.message}`),
        route,
      ).toEqual([]);
    }
  });

  it('pipelines: list, show, create -f, delete', async () => {
    const list = await cli(['pipelines', '--json']);
    expect(list.code, list.out).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual(answers['GET /v1/pipelines']);
    expect(last()).toMatchObject({ method: 'GET', url: '/v1/pipelines', auth: 'Bearer mloop_test-token-0000000000' });
    expect((await cli(['pipelines'])).stdout).toBe(
      'alerts                           running since 2026-12-01T00:00:00Z\n',
    );
    const shown = (await cli(['pipelines', 'show', 'alerts'])).stdout;
    expect(shown).toMatch(/^alerts {2}RUNNING \(running\)$/m);
    expect(shown).toMatch(/^ {2}transform +keep +running +restarts 1 {2}in 10, out 4 {2}lag 2$/m);

    const spec = path.join(dir, 'pipeline.yaml');
    await fs.writeFile(spec, 'name: alerts\nsources: []\n');
    const created = await cli(['pipelines', 'create', '-f', spec]);
    expect(created.code, created.out).toBe(0);
    expect(created.stdout).toBe('started pipeline/alerts; topics alerts.in, alerts.out\n');
    expect(last()).toEqual(
      expect.objectContaining({ method: 'POST', url: '/v1/pipelines', body: { name: 'alerts', sources: [] } }),
    );
    expect((await cli(['pipelines', 'delete', 'alerts'])).code).toBe(0);
    expect(last()).toMatchObject({ method: 'DELETE', url: '/v1/pipelines/alerts' });
    const gone = await cli(['pipelines', 'show', 'nope']);
    expect(gone.code).toBe(3);
  });

  it('drift: run with its environment, reports', async () => {
    const run = await cli(['drift', 'run', '--model', 'pm']);
    expect(run.code, run.out).toBe(0);
    expect(run.stdout).toMatch(/^drift check of pm \(production v3\): DRIFT in rpm$/m);
    expect(run.stdout).toMatch(/^alerts +pm\/production\/3\/dataset_drift$/m);
    expect(last()).toMatchObject({
      method: 'POST',
      url: '/v1/models/pm/drift-checks',
      body: { environment: 'production' },
    });
    expect((await cli(['drift', 'run', '--model', 'pm', '--env', 'staging'])).code).toBe(0);
    expect(last().body).toEqual({ environment: 'staging' });
    expect((await cli(['drift', 'run', '--model', 'pm', '--env', 'qa'])).code).toBe(2);
    const reports = await cli(['drift', 'reports', '--model', 'pm']);
    expect(reports.stdout).toMatch(/^2026-12-01T00:00:00Z {2}production v3 {2}drift +rows 900 {2}r1$/m);
  });

  it('deploy, rollback, approve and reject', async () => {
    expect(
      (await cli(['deploy', '--model', 'pm', '--alias', 'challenger', '--env', 'staging', '--key', 'k'])).code,
    ).toBe(0);
    expect(last().body).toEqual({ model: 'pm', environment: 'staging', alias: 'challenger', key: 'k' });
    expect((await cli(['deploy', '--model', 'pm', '--version', '0', '--env', 'staging'])).code).toBe(2);
    const rb = await cli(['rollback', '--model', 'pm', '--reason', 'alerts', '--json']);
    expect(JSON.parse(rb.stdout)).toEqual(answers['POST /v1/models/pm/rollback']);
    expect(last().body).toEqual({ reason: 'alerts' });
    expect((await cli(['approve', 'lifecycle/pm/k1', '--comment', 'ok'])).stdout).toContain(
      'approved lifecycle/pm/k1 as ada',
    );
    expect(last().body).toEqual({ comment: 'ok' });
    expect((await cli(['reject', 'deploy/pm/production/k2'])).stdout).toContain('rejected deploy/pm/production/k2');
    expect((await cli(['approve', 'pm/k1'])).code).toBe(2);
  });
});
