import type { ChildProcess } from 'node:child_process';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineSpec } from '../../core/pipeline/spec';
import { createRng, featureColumns, generateReading } from '../../examples/predictive-maintenance/data/sensors';
import {
  pipelineStatusQuery,
  pipelineWorkflowId,
  type PipelineInput,
  type UnitStatus,
} from '../../workflows/pipeline-definitions';
import { deleteTopicsStartingWith } from '../api/pipelines-fixture';
import {
  deployExampleToProduction,
  publishedAlerts,
  scheduledCheck,
  startServingStack,
  type ServingStack,
} from '../helpers/serving-stack';
import { testNames } from '../helpers/stack';
import { until } from '../helpers/until';
import { killGroup, startWorker } from '../helpers/worker-process';

const minutes = (n: number): number => n * 60_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How often the units report to their pipeline. */
const reportIntervalMs = 1_000;
/** The pipeline workflow's heartbeat timeout of its units: a dead worker's attempt fails after it. */
const heartbeatTimeoutMs = 20_000;

/**
 * Two ways a check learns of the kill: with the default thresholds, from the server, which
 * retries the unit's activity after its missed heartbeat; with a silence threshold shorter
 * than the heartbeat timeout (MLOOP_HEALTH_SILENT_AFTER_SECONDS), from the unit's silence.
 */
const variants = [
  {
    name: 'default thresholds: the attempt that lost its worker',
    thresholds: {},
    expectMessage: 'lost its worker: attempt 2 waits for one',
    detectedAfterMs: heartbeatTimeoutMs,
  },
  {
    name: 'a 10 s silence threshold: the silent unit',
    thresholds: { silentAfterMs: 10_000 },
    expectMessage: 'has not reported for',
    detectedAfterMs: 10_000,
  },
];

/**
 * Acceptance 3 of the monitoring stage, the transforms' half: the example model in production,
 * a pipeline scoring with it whose units run in a worker process of their own, that process
 * SIGKILLed, and the next scheduled drift check publishes one `transform_unhealthy` alert naming
 * the transform; the check after it publishes none (deduped).
 */
describe.each(variants)('health alert of a killed pipeline transform (real stack, worker process), $name', (v) => {
  const names = testNames('health-transform');
  const p = names.prefix;
  const model = `pm-ht-${p.slice(-8)}`;
  let s: ServingStack;
  let version: number;
  const procs: ChildProcess[] = [];
  let pipeline: WorkflowHandle | undefined;
  let producing = false;
  let producer: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    // The threshold goes where MLOOP_HEALTH_SILENT_AFTER_SECONDS puts it: the workers' deps.
    s = await startServingStack('health-transform', p, { deps: { healthThresholds: v.thresholds } });
    version = await deployExampleToProduction(s, model);
  }, minutes(10));

  afterAll(async () => {
    producing = false;
    await producer;
    await pipeline?.terminate().catch(() => undefined);
    for (const proc of procs) killGroup(proc, 'SIGKILL');
    await s?.stop();
    await deleteTopicsStartingWith(p).catch(() => undefined);
  }, minutes(3));

  const scoreUnit = async (): Promise<UnitStatus | undefined> =>
    (await pipeline!.query(pipelineStatusQuery)).transforms.find((u) => u.name === 'score' && u.replica === 0);

  it(
    'a SIGKILLed transform worker raises one transform_unhealthy alert from the schedule, deduped; none while healthy',
    async () => {
      const unitsQueue = `${p}-units`;
      // Only this process polls the units' queue: the stack's own stream worker never picks them up.
      const worker = startWorker(
        s.stack.dataDir,
        { control: s.stack.queues.control, train: s.stack.queues.train, stream: unitsQueue },
        { MLOOP_WORKER_ROLES: 'stream' },
      );
      procs.push(worker.proc);
      await worker.ready;

      const input = `${p}.in`;
      await s.stack.deps.kafka.ensureTopic(input, 1);
      const spec: PipelineSpec = {
        name: p,
        topics: [
          {
            name: input,
            external: true,
            fields: { machine_id: 'string', ...Object.fromEntries(featureColumns.map((c) => [c, 'number' as const])) },
          },
          { name: `${p}.scores` },
        ],
        transforms: [{ name: 'score', kind: 'model', input, output: `${p}.scores`, model, environment: 'production' }],
      };
      const pipelineInput: PipelineInput = {
        spec,
        requestedBy: 'olivia',
        streamTaskQueue: unitsQueue,
        reportIntervalMs,
      };
      pipeline = await s.stack.client.workflow.start('pipeline', {
        workflowId: pipelineWorkflowId(p),
        taskQueue: s.stack.queues.control,
        args: [pipelineInput],
      });
      // Readings keep coming the whole time, as from machines in the field.
      producing = true;
      const rng = createRng(7);
      producer = (async () => {
        while (producing) {
          const batch = Array.from({ length: 5 }, () => generateReading(rng, 20));
          await s.stack.deps.kafka.produce(
            input,
            batch.map((r) => ({ key: r.machine_id, value: JSON.stringify(r) })),
          );
          await sleep(200);
        }
      })();

      const first = await until(
        'the transform to score records',
        async () => {
          const u = await scoreUnit();
          return u?.state === 'running' && (u.counts.consumed ?? 0) > 0 ? u : undefined;
        },
        minutes(3),
      );
      await until(
        'the transform to go on scoring',
        async () => (((await scoreUnit())?.counts.consumed ?? 0) > (first.counts.consumed ?? 0) ? true : undefined),
        60_000,
      );

      const healthy = await scheduledCheck(s.stack.client, model, 'production');
      expect(healthy.result.alerts ?? []).toEqual([]);
      expect((await publishedAlerts(s, 'production')).filter((a) => a.type === 'transform_unhealthy')).toEqual([]);

      const killedAt = Date.now();
      killGroup(worker.proc, 'SIGKILL');
      await until('the worker to exit', async () =>
        worker.proc.exitCode !== null || worker.proc.signalCode ? true : undefined,
      );

      // Checks run back to back from the kill on, each exactly as the schedule runs it, so the
      // first one that alerts measures how soon after a kill any check can see it.
      const subject = `transform/${p}/score/0`;
      const key = `${model}/production/${version}/transform_unhealthy/${encodeURIComponent(subject)}`;
      let alerted: { checks: number; afterMs: number; alerts: string[] } | undefined;
      for (let checks = 1; !alerted; checks++) {
        const { result } = await scheduledCheck(s.stack.client, model, 'production');
        const found = (await publishedAlerts(s, 'production')).filter((a) => a.type === 'transform_unhealthy');
        if (found.length > 0) alerted = { checks, afterMs: Date.now() - killedAt, alerts: result.alerts ?? [] };
        else expect(result.alerts ?? []).toEqual([]);
        if (!alerted) {
          expect(Date.now() - killedAt, 'no alert within the detection time and a minute').toBeLessThan(
            v.detectedAfterMs + 60_000,
          );
          await sleep(1_000);
        }
      }
      const unit = await scoreUnit();
      console.log(
        `transform_unhealthy ${Math.round(alerted.afterMs / 100) / 10} s after the SIGKILL, ` +
          `at check ${alerted.checks} ` +
          `after it (${v.name}; reports every ${reportIntervalMs / 1000} s); ` +
          `the unit then: state ${unit?.state}, restarts ${unit?.restarts}, last report ${unit?.updatedAt}`,
      );
      expect(alerted.alerts).toEqual([key]);
      const [alert, ...more] = (await publishedAlerts(s, 'production')).filter((a) => a.type === 'transform_unhealthy');
      console.log(`the alert: ${alert?.severity} ${alert?.message}`);
      expect(more).toEqual([]);
      expect(alert).toMatchObject({
        type: 'transform_unhealthy',
        severity: 'critical',
        subject,
        model,
        environment: 'production',
        version,
        details: { pipeline: p, transform: 'score', replica: 0 },
      });
      expect(alert?.message).toContain(`${p}/score/0 ${v.expectMessage}`);
      // One check interval of the schedule (15 minutes by default) is far more than it took: the
      // detection time bounds it, plus the checks' own time on a loaded machine.
      expect(alerted.afterMs).toBeLessThan(v.detectedAfterMs + 30_000);

      const again = await scheduledCheck(s.stack.client, model, 'production');
      expect(again.result.alerts ?? []).toEqual([]);
      expect((await publishedAlerts(s, 'production')).filter((a) => a.type === 'transform_unhealthy')).toHaveLength(1);
    },
    minutes(10),
  );
});
