import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startApi } from '../helpers/api-process';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { connectClient, tempDir, testNames } from '../helpers/stack';
import { killGroup, startWorker } from '../helpers/worker-process';

/** The value of one sample line of a scrape, or undefined when it is not there. */
function sampleOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Sum of the samples of a series whose labels include every `key="value"` given. */
function sumOf(text: string, name: string, labels: string[] = []): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('/metrics and /readyz of a real API and a real worker after a lifecycle', () => {
  const procs: ChildProcess[] = [];
  let client: Client;
  let closeClient: (() => Promise<void>) | undefined;
  let dataDir: string;
  let api: ReturnType<typeof startApi>;
  let workerMetrics: string;
  let token: string;
  const names = testNames('metrics-scrape');
  const queues = { control: names.control, train: names.train, stream: names.stream };

  beforeAll(async () => {
    ({ client, close: closeClient } = await connectClient());
    dataDir = await tempDir('metrics-scrape');
    const worker = startWorker(dataDir, queues);
    procs.push(worker.proc);
    api = startApi(dataDir, await freePort(), {
      MLOOP_TASK_QUEUE_CONTROL: queues.control,
      MLOOP_TASK_QUEUE_TRAIN: queues.train,
      MLOOP_TASK_QUEUE_STREAM: queues.stream,
    });
    procs.push(api.proc);
    await Promise.all([worker.ready, api.ready]);
    workerMetrics = await worker.metricsUrl;
    token = (await fs.readFile(path.join(dataDir, 'auth', 'cli-token'), 'utf8')).trim();
  });
  afterAll(async () => {
    for (const p of procs) killGroup(p, 'SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    await closeClient?.();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  const get = (url: string, auth = true): Promise<Response> =>
    fetch(url, auth ? { headers: { authorization: `Bearer ${token}` } } : {});

  it('exposes the named series with the lifecycle counted', async () => {
    const repo = await createExampleModelRepo();
    const dataset = await createExampleDataset(600);
    const start = await fetch(`${api.url}/v1/lifecycles`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'pm-metrics',
        repo: { url: repo.url, ref: 'main', path: repo.path },
        dataset: { path: dataset },
        key: names.prefix,
      }),
    });
    expect(start.status, await start.clone().text()).toBe(202);
    const { id, links } = (await start.json()) as { id: string; links: { self: string } };
    const result = (await client.workflow.getHandle(id).result()) as { stage: string };
    expect(result.stage).toBe('done');
    expect((await get(`${api.url}${links.self}`)).status).toBe(200);

    const apiScrape = await get(`${api.url}/metrics`);
    expect(apiScrape.status).toBe(200);
    expect(apiScrape.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const apiText = await apiScrape.text();
    expect(sampleOf(apiText, 'mloop_lifecycle_starts_total{outcome="accepted"}')).toBe(1);
    expect(sampleOf(apiText, 'mloop_http_requests_total{method="POST",route="/v1/lifecycles",status="202"}')).toBe(1);
    expect(sumOf(apiText, 'mloop_http_requests_total', ['route="/v1/lifecycles/:model/:key"', 'status="200"'])).toBe(1);
    expect(sumOf(apiText, 'mloop_http_requests_total', ['route="/healthz"'])).toBeGreaterThanOrEqual(1);
    expect(
      sampleOf(apiText, 'mloop_http_request_duration_seconds_count{method="POST",route="/v1/lifecycles",status="202"}'),
    ).toBe(1);
    expect(sampleOf(apiText, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    // The worker's listener needs no token: it binds loopback only by default.
    const workerScrape = await get(workerMetrics, false);
    expect(workerScrape.status).toBe(200);
    const workerText = await workerScrape.text();
    const activity = (type: string, outcome = 'completed'): string[] => [
      `activity_type="${type}"`,
      `outcome="${outcome}"`,
    ];
    expect(sumOf(workerText, 'mloop_activity_duration_seconds_count', activity('runTraining'))).toBe(1);
    expect(sumOf(workerText, 'mloop_activity_duration_seconds_count', activity('registerModelVersion'))).toBe(1);
    const trainingSeconds = sumOf(workerText, 'mloop_activity_duration_seconds_sum', activity('runTraining'));
    expect(trainingSeconds).toBeGreaterThan(0.1);
    expect(trainingSeconds).toBeLessThan(600);
    const counts = workerText.split('\n').filter((l) => l.startsWith('mloop_activity_duration_seconds_count{'));
    console.log(`activity attempts in the worker's scrape:\n${counts.join('\n')}`);
    // Training and everything else on the train queue is counted under that queue's name.
    expect(
      sumOf(workerText, 'mloop_activity_duration_seconds_count', [`task_queue="${queues.train}"`]),
    ).toBeGreaterThanOrEqual(1);
    expect(sumOf(workerText, 'mloop_activity_duration_seconds_count', ['outcome="failed"'])).toBe(0);
    for (const series of [
      'mloop_shadow_messages_total counter',
      'mloop_shadow_lag_messages gauge',
      'mloop_pipeline_records_total counter',
      'mloop_pipeline_lag_messages gauge',
      'mloop_drift_score gauge',
      'mloop_drift_checks_total counter',
      'mloop_alerts_total counter',
    ]) {
      expect(workerText).toContain(`# TYPE ${series}\n`);
    }
    // The Temporal SDK's own series, merged into the same scrape.
    const temporal = [...new Set([...workerText.matchAll(/^(temporal_[a-z_]+)[{ ]/gm)].map((m) => m[1]))];
    console.log(
      `Temporal SDK series in the worker's scrape: ${temporal.length} (${temporal.slice(0, 8).join(', ')}, …)`,
    );
    expect(
      sumOf(workerText, 'temporal_activity_execution_latency_seconds_count', [`activity_type="runTraining"`]),
    ).toBe(1);
    expect(sumOf(workerText, 'temporal_workflow_completed_total', ['workflow_type="modelLifecycle"'])).toBe(1);
    expect(workerText).not.toContain('were not available');
  });

  it('is ready with the stack, and names Kafka when its broker address is a closed port', async () => {
    const ready = await get(`${api.url}/readyz`, false);
    const body = (await ready.json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    expect(ready.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({
      ready: true,
      checks: { temporal: { ok: true }, kafka: { ok: true }, registry: { ok: true } },
    });

    const closed = await freePort();
    const blind = startApi(dataDir, await freePort(), {
      KAFKA_BROKERS: `127.0.0.1:${closed}`,
      MLOOP_READY_TIMEOUT_MS: '1500',
    });
    procs.push(blind.proc);
    await blind.ready;
    const started = Date.now();
    const res = await fetch(`${blind.url}/readyz`);
    const took = Date.now() - started;
    const notReady = (await res.json()) as {
      message: string;
      checks: Record<string, { ok: boolean; reason?: string }>;
    };
    expect(res.status, JSON.stringify(notReady)).toBe(503);
    expect(notReady.message).toBe('not ready: kafka (ECONNREFUSED)');
    expect(notReady.checks).toMatchObject({ temporal: { ok: true }, registry: { ok: true }, kafka: { ok: false } });
    expect(took).toBeLessThan(3000);
  });
});
