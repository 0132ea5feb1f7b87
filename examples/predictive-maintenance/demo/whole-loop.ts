/**
 * The whole loop of the predictive-maintenance example, as a user meets it: train → shadow test
 * on simulated live sensor data → staging → approval (by the demo's own approver token) →
 * production → the pipeline from sensors to alerts with its PostgreSQL sink → a scheduled drift
 * check → injected drift → the alert → the retraining lifecycle waiting for approval. It prints
 * what each stage did and a summary; run twice in a row, it works twice.
 *
 *   tsx whole-loop.ts --repo DIR --dataset FILE --state-dir DIR
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { loadConfigOrExit } from '../../../core/config';
import { createKafkaAdapter, type PartitionOffsets } from '../../../core/kafka/adapter';
import { defaultAlertsTopic, type DriftCheckResult } from '../../../workflows/monitoring-definitions';
import { createRng, featureColumns, generateReading } from '../data/sensors';
import { simulateLive } from '../data/simulate-live';
import { DemoApi, waitFor } from './api';
import { approverSubject, ensureApproverToken } from './approver-token';
import { shiftReading } from './drift';
import { receiverPortOf, startWebhookReceiver, type WebhookReceiver } from './webhook';
import { quietAfter, type LastRun } from './quiet';
import { formatSummary, runKey, type StageOutcome } from './summary';

const model = 'predictive-maintenance';
// Checks every minute over the last 2 minutes; the cool-down outlasts the window, so one
// injected drift starts one retraining.
const monitoringWindow = { windowMinutes: 2, cooldownMinutes: 3 };
const liveTopic = 'sensors.live';
const stages = [
  'train',
  'shadow test',
  'staging',
  'approval',
  'production',
  'pipeline',
  'drift check',
  'injected drift',
  'alert',
  'retraining',
] as const;
type Stage = (typeof stages)[number];

const { values } = parseArgs({
  options: {
    repo: { type: 'string' },
    dataset: { type: 'string' },
    'state-dir': { type: 'string' },
  },
});
for (const required of ['repo', 'dataset', 'state-dir'] as const)
  if (!values[required]) throw new Error(`--${required} is required`);
const stateDir = path.resolve(values['state-dir']!);
const lastRunFile = path.join(stateDir, 'last-run.json');

const config = loadConfigOrExit('whole-loop');
const operatorToken = (await fs.readFile(config.auth.cliTokenFile, 'utf8')).trim();
const approverToken = await ensureApproverToken(config.auth.tokensFile, path.join(stateDir, 'approver-token'));
const operator = new DemoApi(config.apiUrl, operatorToken);
const approver = new DemoApi(config.apiUrl, approverToken);
const brokers = config.kafkaBrokers;
const mloopCli = path.resolve(import.meta.dirname, '../../../bin/mloop');

const summary: StageOutcome[] = [];
let stageStart = Date.now();
const say = (stage: string, what: string): void => console.log(`[${stage}] ${what}`);
const done = (stage: Stage, outcome: string): void => {
  summary.push({ stage, ok: true, outcome, seconds: (Date.now() - stageStart) / 1000 });
  stageStart = Date.now();
  say(stage, outcome);
};

interface LifecycleView {
  id: string;
  status: string;
  stage?: string;
  version?: number;
  metrics?: Record<string, number | null>;
  shadow?: { messages?: number };
  deploy?: { phase: string; endpoints: Record<string, string>; approval?: { decision?: { by: string } } };
  error?: string;
  links: { self: string; webUi: string };
}

/** Follows a lifecycle, printing each stage it enters, until `until` says stop; a failure stops the demo. */
const lastSeen = new Map<string, string>();
async function follow(path: string, until: (v: LifecycleView) => boolean, timeoutMs: number): Promise<LifecycleView> {
  return waitFor(
    `${path} to move on`,
    async () => {
      const v = await operator.ok<LifecycleView>('GET', path);
      const now = `${v.status.toLowerCase()}, stage ${v.stage ?? '?'}`;
      if (now !== lastSeen.get(path)) say('lifecycle', `${v.id}: ${now}`);
      lastSeen.set(path, now);
      if (v.status !== 'RUNNING' && !until(v)) throw new Error(`${v.id} ended ${now}: ${v.error ?? 'no reason given'}`);
      return until(v) ? v : undefined;
    },
    timeoutMs,
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The previous run's retraining lifecycle, if it still waits: rejected, so staging is free again. */
async function rejectPreviousRetraining(last: LastRun): Promise<void> {
  if (!last.retraining) return;
  const r = await operator.call<LifecycleView>('GET', last.retraining);
  if (r.status !== 200 || r.body.status !== 'RUNNING') return;
  if (r.body.stage === 'awaiting-approval') {
    await approver.ok('POST', `${last.retraining}/reject`, { comment: 'superseded by a new run of the demo' });
  } else {
    await operator.ok('POST', `${last.retraining}/abort`, { reason: 'superseded by a new run of the demo' });
  }
  say('setup', `${r.body.id} of the previous run: ${r.body.stage === 'awaiting-approval' ? 'rejected' : 'aborted'}`);
  await follow(last.retraining, (v) => v.status !== 'RUNNING', 5 * 60_000).catch(() => undefined);
}

/** Shifted readings (three of five features), stamped now, at `perSecond`, until `signal` aborts. */
async function injectDrift(perSecond: number, signal: AbortSignal): Promise<number> {
  const kafka = createKafkaAdapter({ brokers, clientId: 'pm-drift' });
  const rng = createRng(99);
  let sent = 0;
  try {
    while (!signal.aborted) {
      const records = Array.from({ length: Math.ceil(perSecond / 4) }, () => {
        const r = shiftReading(generateReading(rng));
        return { key: r.machine_id, value: JSON.stringify({ ...r, ts: new Date().toISOString() }) };
      });
      await kafka.produce(liveTopic, records);
      sent += records.length;
      await sleep(250);
    }
  } finally {
    await kafka.close();
  }
  return sent;
}

/** The records on mloop.alerts after `since` whose keys are among `keys`. */
async function alertsOnTopic(since: PartitionOffsets[], keys: string[]): Promise<number> {
  const kafka = createKafkaAdapter({ brokers, clientId: 'pm-alerts' });
  try {
    const now = await kafka.partitionOffsets(defaultAlertsTopic);
    const ranges = now.map((p) => ({
      partition: p.partition,
      from: since.find((s) => s.partition === p.partition)?.high ?? p.low,
      to: p.high,
    }));
    let found = 0;
    await kafka.readRanges(defaultAlertsTopic, ranges, async (records) => {
      found += records.filter((r) => r.key !== null && keys.includes(r.key)).length;
    });
    return found;
  } finally {
    await kafka.close();
  }
}

async function alertOffsets(): Promise<PartitionOffsets[]> {
  const kafka = createKafkaAdapter({ brokers, clientId: 'pm-alerts' });
  try {
    // Made as the alert publisher makes it, so the offsets before the first alert can be read.
    await kafka.ensureTopic(defaultAlertsTopic);
    return await kafka.partitionOffsets(defaultAlertsTopic);
  } finally {
    await kafka.close();
  }
}

// Live sensor data, as a plant sends it: the shadow test scores it, the drift checks read it.
const live = new AbortController();
const simulator = simulateLive({
  brokers,
  topic: liveTopic,
  ratePerSecond: 100,
  count: 1e12,
  seed: Date.now() % 1e6,
  signal: live.signal,
});
const drifting = new AbortController();
let injected: Promise<number> = Promise.resolve(0);
const temporal = new Client({
  connection: await Connection.connect({ address: config.temporalAddress }),
  namespace: config.temporalNamespace,
});
const loopStart = Date.now();
let failure: Error | undefined;
let webhook: WebhookReceiver | undefined;

try {
  const last = await fs.readFile(lastRunFile, 'utf8').then(
    (t) => JSON.parse(t) as LastRun,
    () => ({}) as LastRun,
  );
  await rejectPreviousRetraining(last);

  // Train, shadow test, staging, approval, production: one lifecycle with a key of its own.
  stageStart = Date.now();
  const started = await operator.ok<{ id: string; links: { self: string; webUi: string } }>('POST', '/v1/lifecycles', {
    model,
    key: runKey(new Date()),
    repo: { url: values.repo, ref: 'main' },
    dataset: { path: values.dataset },
    shadow: {
      inputTopic: liveTopic,
      startAt: 'latest',
      stopAfter: { messages: 1000, seconds: 120 },
      thresholds: { minMessages: 200, maxFailureRate: 0.01 },
    },
    deploy: { environment: 'production' },
  });
  say('lifecycle', `started ${started.id}\n            ${started.links.webUi}`);
  const shadowing = await follow(started.links.self, (v) => v.stage !== 'train', 15 * 60_000);
  done('train', `version ${shadowing.version}, roc_auc ${shadowing.metrics?.roc_auc?.toFixed(4) ?? 'n/a'}`);
  const staged = await follow(started.links.self, (v) => v.stage === 'awaiting-approval', 10 * 60_000);
  const result = await operator.ok<LifecycleView & { shadowTest?: unknown }>('GET', started.links.self);
  done('shadow test', `passed on ${staged.shadow?.messages ?? result.shadow?.messages ?? '?'} live readings`);
  done('staging', `version ${staged.version} serving at ${staged.deploy?.endpoints.staging ?? '?'}`);

  // Promoted only once the previous run's drift left the window: else the schedule's first checks of
  // the new version would find that drift and spend the alert this run's injection is to raise.
  const quiet = quietAfter(last, monitoringWindow, new Date());
  let waited = '';
  if (quiet.getTime() > Date.now()) {
    say('approval', `waiting until ${quiet.toISOString()}: the previous run's drift leaves the drift window first`);
    const from = Date.now();
    await sleep(quiet.getTime() - Date.now());
    waited =
      `; first waited ${Math.round((Date.now() - from) / 1000)} s ` +
      `for the previous run's drift to leave the window`;
  }

  // The approval, as a person with the approver role gives it: the CLI with the demo's own token.
  const approve = await promisify(execFile)(
    mloopCli,
    ['approve', started.id, '--comment', 'approved by the whole-loop demo'],
    { env: { ...process.env, MLOOP_TOKEN: approverToken } },
  );
  say('approval', `$ mloop approve ${started.id} --comment '…'\n           ${approve.stdout.trim()}`);
  const production = await follow(started.links.self, (v) => v.status === 'COMPLETED', 10 * 60_000);
  const by = production.deploy?.approval?.decision?.by;
  if (by !== approverSubject) throw new Error(`the approval was recorded as by "${by}", not "${approverSubject}"`);
  done('approval', `approved by ${by} (its own token, approver role)${waited}`);
  done('production', `version ${production.version} serving at ${production.deploy?.endpoints.production ?? '?'}`);
  const version = production.version!;

  // The pipeline: sensors → 10 s windows per machine → the production model → failure-alerts →
  // PostgreSQL and the signed webhook. One left by an earlier run is replaced, so the spec is this one.
  const secret = process.env.MLOOP_ALERTS_WEBHOOK_SECRET;
  if (!secret) throw new Error('MLOOP_ALERTS_WEBHOOK_SECRET is not set: the webhook sink and its receiver need it');
  const spec = parseYaml(await fs.readFile(path.join(import.meta.dirname, '../pipeline.yaml'), 'utf8')) as {
    name: string;
    sinks?: Array<{ name?: string; kind?: string; url?: string }>;
  };
  webhook = await startWebhookReceiver(receiverPortOf(spec), secret);
  const replaced = (await operator.call('GET', `/v1/pipelines/${spec.name}`)).body as { status?: string } | undefined;
  if (replaced?.status === 'RUNNING') {
    await operator.ok('DELETE', `/v1/pipelines/${spec.name}`);
    say('pipeline', `stopped the running pipeline/${spec.name} of an earlier run`);
  }
  const db = new pg.Client({ connectionString: config.postgresUrl });
  await db.connect();
  try {
    const count = async (): Promise<number> => {
      const r = await db.query<{ n: string }>('select count(*) as n from failure_alerts').catch(() => undefined);
      return Number(r?.rows[0]?.n ?? 0);
    };
    const rowsBefore = await count();
    await operator.ok('POST', '/v1/pipelines', spec);
    say('pipeline', `started pipeline/${spec.name}; waiting for its first windows in PostgreSQL`);
    const rows = await waitFor(
      'new predictions in PostgreSQL table failure_alerts',
      async () => {
        const n = (await count()) - rowsBefore;
        return n > 0 && webhook!.counts().valid > 0 ? n : undefined;
      },
      3 * 60_000,
      2000,
    );
    const { valid, refused } = webhook.counts();
    done(
      'pipeline',
      `pipeline/${spec.name}: ${rows} new window predictions in PostgreSQL table failure_alerts, ` +
        `${valid} signed webhook posts to 127.0.0.1:${webhook.port}${refused ? `, ${refused} refused` : ''}`,
    );
  } finally {
    await db.end();
  }

  // Monitoring: the schedule promotion created, pointed at the live input, every minute.
  const monitoring = await operator.ok<{ schedules: Array<{ id: string; environment: string; exists: boolean }> }>(
    'PATCH',
    `/v1/models/${model}/monitoring`,
    {
      intervalMinutes: 1,
      windowMinutes: monitoringWindow.windowMinutes,
      minRows: 300,
      dedupeMinutes: 60,
      input: { topic: liveTopic, eventTimeField: 'ts' },
      retraining: {
        mode: 'on',
        data: { kind: 'dataset', path: values.dataset },
        cooldownMinutes: monitoringWindow.cooldownMinutes,
      },
    },
  );
  const schedule = monitoring.schedules.find((s) => s.environment === 'production');
  if (!schedule?.exists) throw new Error(`promotion created no drift schedule (${JSON.stringify(schedule)})`);
  const baseline = await operator.ok<DriftCheckResult & { links?: { html: string } }>(
    'POST',
    `/v1/models/${model}/drift-checks`,
    { environment: 'production' },
  );
  done(
    'drift check',
    `schedule ${schedule.id} every minute; a check now: ${baseline.status} on ${baseline.rows ?? 0} live readings` +
      ` (${baseline.links ? `${config.apiUrl}${baseline.links.html}` : 'no report'})`,
  );

  // Injected drift: the plant's machines run hotter, shake more and lose pressure.
  const alertsBefore = await alertOffsets();
  const injectedAt = new Date().toISOString();
  live.abort();
  await simulator;
  injected = injectDrift(200, drifting.signal);
  say('injected drift', 'temperature +15 °C, vibration +3 mm/s, pressure −1.2 bar; waiting for a scheduled check');
  const report = await waitFor(
    'a scheduled check to report drift',
    async () => {
      const list = await operator.ok<{
        reports: Array<{ status: string; workflowId: string; createdAt: string; version: number; id: string }>;
      }>('GET', `/v1/models/${model}/drift-reports?environment=production&limit=20`);
      return list.reports.find(
        (r) =>
          r.status === 'drift' && r.version === version && r.createdAt > injectedAt && !r.workflowId.includes('/now-'),
      );
    },
    5 * 60_000,
    3000,
  );
  const check = (await temporal.workflow.getHandle(report.workflowId).result()) as DriftCheckResult;
  drifting.abort();
  const driftEndedAt = new Date().toISOString();
  await fs.mkdir(stateDir, { recursive: true });
  await fs.writeFile(lastRunFile, `${JSON.stringify({ driftEndedAt } satisfies LastRun)}\n`);
  done(
    'injected drift',
    `${await injected} shifted readings; ${report.workflowId}: dataset drift, ` +
      `${check.driftedFeatures?.length ?? 0} of ${featureColumns.length} features ` +
      `(${check.driftedFeatures?.join(', ')})` +
      ` (${config.apiUrl}/v1/models/${model}/drift-reports/${report.id}.html)`,
  );
  const onTopic = await alertsOnTopic(alertsBefore, check.alerts ?? []);
  if (onTopic === 0) throw new Error(`no alert of ${report.workflowId} on ${defaultAlertsTopic}`);
  done('alert', `${onTopic} alert(s) on ${defaultAlertsTopic}: ${(check.alerts ?? []).join(', ')}`);

  // The retraining lifecycle the drift started waits for a human, like any other.
  if (!check.retraining) throw new Error(`${report.workflowId} started no retraining lifecycle`);
  const [, rModel, rKey] = check.retraining.workflowId.split('/');
  const retrainPath = `/v1/lifecycles/${rModel}/${rKey}`;
  await fs.writeFile(lastRunFile, `${JSON.stringify({ retraining: retrainPath, driftEndedAt } satisfies LastRun)}\n`);
  const waiting = await follow(retrainPath, (v) => v.stage === 'awaiting-approval', 15 * 60_000);
  done('retraining', `${waiting.id} trained version ${waiting.version} and waits for approval`);
} catch (err) {
  failure = err as Error;
  const next = stages.find((s) => !summary.some((d) => d.stage === s));
  if (next)
    summary.push({ stage: next, ok: false, outcome: failure.message, seconds: (Date.now() - stageStart) / 1000 });
} finally {
  live.abort();
  drifting.abort();
  await simulator.catch(() => 0);
  await injected.catch(() => 0);
  await temporal.connection.close();
  await webhook?.close();
}

console.log(`\nThe whole loop, stage by stage (${((Date.now() - loopStart) / 1000).toFixed(0)} s):`);
console.log(formatSummary(summary, stages));
if (failure) {
  console.error(`\nThe loop stopped: ${failure.message}`);
  process.exitCode = 1;
}
