import {
  defaultPayloadConverter,
  encodePendingActivityState,
  type DescribeWorkflowExecutionResponse,
} from '@temporalio/client';
import { encodeTimeoutType, TypedSearchAttributes } from '@temporalio/common';
import { msNumberToTs } from '@temporalio/common/lib/time';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createHealthActivities, type HealthActivityDeps, type HealthCheckResult } from '../../../activities/health';
import type { ServingServer } from '../../../core/deploy/releases';
import type { Instance } from '../../../core/deploy/runtime';
import { searchAttributes } from '../../../workflows/definitions';
import type { PipelineStatus, UnitStatus } from '../../../workflows/pipeline-definitions';

const model = 'pm';
const instance = (url: string): Instance => ({
  model,
  environment: 'production',
  version: 3,
  replica: 0,
  name: 'mloop-t.pm.production.v3.r0',
  runtime: 'process',
  sha: 'a'.repeat(40),
  artifactDigest: `sha256:${'b'.repeat(64)}`,
  host: '127.0.0.1',
  port: 1,
  url,
  ref: '1',
});

const unit = (over: Partial<UnitStatus>): UnitStatus => ({
  kind: 'transform',
  name: 'score',
  replica: 0,
  state: 'running',
  restarts: 0,
  updatedAt: new Date().toISOString(),
  counts: { consumed: 10 },
  partitions: [{ partition: 0, committed: '10', highWatermark: '10', lag: 0 }],
  messagesPerSecond: 1,
  errors: 0,
  lastError: null,
  ...over,
});

const pipeline = (name: string, environment: string, transforms: UnitStatus[]): PipelineStatus => ({
  name,
  state: 'running',
  guarantee: 'at-least-once',
  requestedBy: 't',
  startedAt: new Date().toISOString(),
  runs: 1,
  topics: [],
  deadLetterTopic: 'dlq',
  models: { score: { model, environment } },
  transforms,
  sources: [],
  sinks: [],
});

type PendingActivity = NonNullable<DescribeWorkflowExecutionResponse['pendingActivities']>[number];

/** A Temporal client with the given running pipelines and their pending activities, and what the activity asked it. */
function fakeTemporal(
  pipelines: PipelineStatus[],
  pending: Record<string, PendingActivity[]> = {},
  unanswering: Array<{ name: string; model?: string }> = [],
): { client: HealthActivityDeps['temporal']; queries: string[] } {
  const queries: string[] = [];
  const client = {
    options: { loadedDataConverter: { payloadConverter: defaultPayloadConverter } },
    connection: { withDeadline: <T>(_: number, fn: () => Promise<T>) => fn() },
    workflow: {
      async *list(opts: { query: string }) {
        queries.push(opts.query);
        const attributes = (m?: string) =>
          new TypedSearchAttributes(m === undefined ? [] : [{ key: searchAttributes.model, value: m }]);
        for (const p of pipelines) {
          const first = Object.values(p.models)[0]?.model;
          yield { workflowId: `pipeline/${p.name}`, runId: 'r', typedSearchAttributes: attributes(first) };
        }
        for (const p of unanswering)
          yield { workflowId: `pipeline/${p.name}`, runId: 'r', typedSearchAttributes: attributes(p.model) };
      },
      getHandle: (id: string) => ({
        workflowId: id,
        describe: async () => ({ raw: { pendingActivities: pending[id.replace(/^pipeline\//, '')] ?? [] } }),
        query: async () => {
          const p = pipelines.find((x) => `pipeline/${x.name}` === id);
          if (!p) throw new Error('gone');
          return p;
        },
      }),
    },
  };
  return { client: client as unknown as HealthActivityDeps['temporal'], queries };
}

function activities(
  servers: ServingServer[],
  pipelines: PipelineStatus[],
  pending: Record<string, PendingActivity[]> = {},
  unanswering: Array<{ name: string; model?: string }> = [],
) {
  const temporal = fakeTemporal(pipelines, pending, unanswering);
  const registry = {
    currentDeployments: async () => [{ environment: 'production', version: 3 }],
  } as unknown as HealthActivityDeps['registry'];
  const acts = createHealthActivities({
    registry,
    temporal: temporal.client,
    releases: { serving: async () => servers },
    controlQueue: 'q-control',
    probeTimeoutMs: 500,
  });
  const at = '2026-12-01T12:00:00.000Z';
  const run = (): Promise<HealthCheckResult> =>
    new MockActivityEnvironment().run(() => acts.checkHealth({ model, environment: 'production', at }));
  return { run, queries: temporal.queries };
}

describe('checkHealth', () => {
  it('a stopped server and a restarting transform scoring the environment are alerts of the version', async () => {
    const { run, queries } = activities(
      [{ name: 'mloop-t.pm.production.v3.r0', replica: 0 }],
      [
        pipeline('scores', 'production', [unit({ state: 'restarting', restarts: 2, lastError: 'connection refused' })]),
        pipeline('elsewhere', 'staging', [unit({ state: 'stopped' })]),
      ],
    );
    const result = await run();
    expect(queries).toEqual([`WorkflowType = 'pipeline' AND ExecutionStatus = 'Running' AND TaskQueue = "q-control"`]);
    expect(result.checkId).toMatch(/^health-/);
    expect(result.alerts.map((a) => [a.type, a.severity, a.subject, a.version])).toEqual([
      ['component_down', 'critical', 'server/mloop-t.pm.production.v3.r0', 3],
      ['transform_unhealthy', 'warning', 'transform/scores/score/0', 3],
    ]);
    expect(result.alerts[1]?.message).toContain('connection refused');
    expect(result).toMatchObject({ servers: 1, transforms: 1, notes: [] });
  });

  it('a running server that does not answer ready is down; one that answers is not', async () => {
    const down = await activities([{ name: 'a', replica: 0, instance: instance('http://127.0.0.1:9') }], []).run();
    expect(down.alerts.map((a) => a.type)).toEqual(['component_down']);
    expect(down.alerts[0]?.message).toContain('does not answer ready');
    const http = await import('node:http');
    const server = http.createServer((req, res) =>
      res.writeHead(req.url === `/v2/models/${model}/ready` ? 200 : 404).end(),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      const up = await activities(
        [{ name: 'a', replica: 0, instance: instance(`http://127.0.0.1:${port}`) }],
        [],
      ).run();
      expect(up.alerts).toEqual([]);
    } finally {
      server.close();
    }
  });

  describe('retried transform activities, which the pipeline status does not show', () => {
    const scheduled = encodePendingActivityState('SCHEDULED');
    const started = encodePendingActivityState('STARTED');
    const seconds = (msAgo: number) => msNumberToTs(Date.now() - msAgo);
    const heartbeatTimeout = {
      message: 'activity Heartbeat timeout',
      timeoutFailureInfo: { timeoutType: encodeTimeoutType('HEARTBEAT') },
    };
    const attempt = (over: Partial<PendingActivity> & { beat?: unknown }): PendingActivity => {
      const { beat, ...rest } = over;
      return {
        activityId: '1',
        activityType: { name: 'runPipelineTransform' },
        state: scheduled,
        attempt: 2,
        scheduledTime: seconds(30_000),
        lastFailure: heartbeatTimeout,
        ...(beat !== undefined ? { heartbeatDetails: { payloads: [defaultPayloadConverter.toPayload(beat)] } } : {}),
        ...rest,
      };
    };
    const owning = (replica: number, partitions: number[]) =>
      unit({
        replica,
        partitions: partitions.map((p) => ({ partition: p, committed: '1', highWatermark: '1', lag: 0 })),
      });
    const beatOf = (transform: string, partitions: number[]) => ({
      pipeline: 'scores',
      transform,
      partitions: partitions.map((p) => ({ partition: p, committed: '1', highWatermark: '1', lag: 0 })),
    });
    const found = (r: HealthCheckResult) => r.alerts.map((a) => [a.severity, a.subject, a.message]);

    it('a replica whose worker died is critical while its status still says running; its sibling is not', async () => {
      const result = await activities([], [pipeline('scores', 'production', [owning(0, [0, 1]), owning(1, [2, 3])])], {
        scores: [attempt({ beat: beatOf('score', [2, 3]) }), attempt({ activityType: { name: 'runPipelineSink' } })],
      }).run();
      expect(found(result).filter(([, s]) => String(s).startsWith('transform/'))).toEqual([
        [
          'critical',
          'transform/scores/score/1',
          'scores/score/1 lost its worker: attempt 2 waits for one for 30 s: activity Heartbeat timeout',
        ],
      ]);
    });

    it('a crash loop shows as restarting, started again or waiting; attempt 1 and old restarts do not', async () => {
      const crash = { message: 'model server refused', timeoutFailureInfo: null };
      const check = (a: PendingActivity) =>
        activities([], [pipeline('scores', 'production', [unit({})])], { scores: [a] })
          .run()
          .then((r) => found(r).filter(([, s]) => String(s).startsWith('transform/')));
      expect(await check(attempt({ lastFailure: crash, attempt: 5, beat: beatOf('score', [0]) }))).toEqual([
        [
          'warning',
          'transform/scores/score/0',
          'scores/score/0 is restarting: attempt 5 waits for 30 s: model server refused',
        ],
      ]);
      const running = { state: started, lastFailure: crash, attempt: 6, beat: beatOf('score', [0]) };
      expect(await check(attempt({ ...running, lastStartedTime: seconds(3_000) }))).toEqual([
        [
          'warning',
          'transform/scores/score/0',
          'scores/score/0 restarted: attempt 6 runs for 3 s: model server refused',
        ],
      ]);
      expect(await check(attempt({ ...running, lastStartedTime: seconds(600_000) }))).toEqual([]);
      expect(await check(attempt({ attempt: 1, beat: beatOf('score', [0]) }))).toEqual([]);
    });

    it('an attempt is given to a unit only when its heartbeat or the pipeline says whose it is', async () => {
      const alone = pipeline('scores', 'production', [unit({})]);
      // No heartbeat yet, one replica in the pipeline: it is that one.
      expect((await activities([], [alone], { scores: [attempt({})] }).run()).alerts.map((a) => a.subject)).toContain(
        'transform/scores/score/0',
      );
      // A filter transform's attempt is not the model transform's.
      const two = { ...alone, transforms: [unit({}), unit({ name: 'clean' })] };
      const filter = await activities([], [two], { scores: [attempt({ beat: beatOf('clean', [0]) })] }).run();
      expect(filter.alerts.filter((a) => a.type === 'transform_unhealthy')).toEqual([]);
      // No heartbeat and two replicas, or a heartbeat matching both: unknown, so nothing is made up.
      const replicas = pipeline('scores', 'production', [owning(0, [0]), owning(1, [0])]);
      for (const a of [attempt({}), attempt({ beat: beatOf('score', [0]) })]) {
        const r = await activities([], [replicas], { scores: [a] }).run();
        expect(r.alerts.filter((x) => x.type === 'transform_unhealthy')).toEqual([]);
      }
    });
  });

  it(
    'a pipeline started for the model that does not answer its status is critical; ' + 'one of another model is not',
    async () => {
      const result = await activities([], [], {}, [
        { name: 'stuck', model },
        { name: 'other', model: 'another-model' },
        { name: 'no-model' },
      ]).run();
      expect(result.alerts.filter((a) => a.type === 'transform_unhealthy').map((a) => [a.severity, a.subject])).toEqual(
        [['critical', 'pipeline/stuck']],
      );
      expect(result.alerts.find((a) => a.subject === 'pipeline/stuck')?.message).toBe(
        'pipeline stuck does not answer its status, so its transforms cannot be checked: gone',
      );
    },
  );
});
