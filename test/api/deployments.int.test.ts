import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployStatusQuery, type DeployModelResult } from '../../workflows/definitions';
import { as, tokenOf } from '../helpers/auth';
import { buildTestApp } from '../helpers/lifecycle';
import { RecordingReleases } from '../helpers/recording-releases';
import { newVersion } from '../helpers/registry';
import { config, startTestStack, type TestStack } from '../helpers/stack';
import { until } from '../helpers/until';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

/**
 * Deployments and approvals through the API, the CLI and the `temporal` CLI, on the real Temporal
 * server. The servers behind a release are kept in memory (the proxy and runtimes have their own
 * integration tests): what is under test is who may decide, and what each path records.
 */
describe('deployments and promotion approvals: API, CLI and temporal CLI (real Temporal)', () => {
  // Model names of this run: workflow IDs on the shared server are theirs alone.
  const suffix = randomUUID().slice(0, 6);
  let stack: TestStack;
  let app: FastifyInstance;
  let url: string;
  const releases = new RecordingReleases();
  let seq = 0;

  beforeAll(async () => {
    stack = await startTestStack('deployments-api', { releases });
    app = await buildTestApp(stack);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await stack?.stop();
  });

  async function registered(model: string): Promise<number> {
    seq += 1;
    return (await stack.deps.registry.registerVersion(newVersion(model, `api-deploy-${model}-${seq}`))).version;
  }

  /** Starts a production deploy as the operator `only-operator` and waits for its approval gate. */
  async function waitingDeploy(model: string, version: number): Promise<{ id: string; self: string }> {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/deployments',
      headers: as('only-operator'),
      payload: { model, version, environment: 'production', key: `k${seq}` },
    });
    expect(res.statusCode, res.body).toBe(202);
    const { id, links } = res.json<{ id: string; links: { self: string } }>();
    await until('the approval gate', async () => {
      const view = await app.inject({ method: 'GET', url: links.self, headers: as('only-viewer') });
      return view.json<{ phase?: string }>().phase === 'awaiting-approval' ? true : undefined;
    });
    return { id, self: links.self };
  }

  const finished = (id: string) => stack.client.workflow.getHandle(id).result() as Promise<DeployModelResult>;

  it(
    'approves through the API: viewers and operators get 403, ' +
      'the approver is recorded, a second approval is refused',
    async () => {
      const model = `api-approve-${suffix}`;
      const version = await registered(model);
      const { id, self } = await waitingDeploy(model, version);
      const approve = `${self}/approve`;

      for (const who of ['only-viewer', 'only-operator']) {
        const res = await app.inject({ method: 'POST', url: approve, headers: as(who), payload: {} });
        expect(res.statusCode, res.body).toBe(403);
        expect(res.json()).toMatchObject({ error: 'Forbidden', message: expect.stringContaining('"approver"') });
      }
      const ok = await app.inject({
        method: 'POST',
        url: approve,
        headers: as('only-approver'),
        payload: { comment: 'reviewed' },
      });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(ok.json()).toMatchObject({ approved: true, by: 'only-approver', comment: 'reviewed' });

      const again = await app.inject({ method: 'POST', url: approve, headers: as('alice'), payload: {} });
      expect(again.statusCode, again.body).toBe(409);
      expect(again.json().message).toMatch(/^promotion of v\d+ was already approved by only-approver at /);

      expect(await finished(id)).toMatchObject({ outcome: 'production' });
      const history = await app.inject({
        method: 'GET',
        url: `/v1/models/${model}/history`,
        headers: as('only-viewer'),
      });
      expect(history.json().history).toContainEqual(
        expect.objectContaining({ alias: 'champion', version, by: 'only-approver' }),
      );
      const audit = await app.inject({
        method: 'GET',
        url: `/v1/deployments/${model}/production`,
        headers: as('only-viewer'),
      });
      expect(audit.statusCode, audit.body).toBe(200);
      expect(audit.json()).toMatchObject({
        current: { version, by: 'only-approver' },
        events: [{ outcome: 'production', by: 'only-approver' }],
      });
      const listed = await app.inject({ method: 'GET', url: '/v1/deployments', headers: as('only-viewer') });
      expect(listed.json().deployments).toContainEqual(
        expect.objectContaining({ model, environment: 'production', version }),
      );
    },
  );

  it('refuses to approve a version that failed its shadow test, with the reason', async () => {
    const model = `api-shadow-failed-${suffix}`;
    const version = await registered(model);
    await stack.deps.registry.recordShadowReport({
      key: `failed-${model}`,
      model,
      version,
      lifecycleId: `lifecycle/${model}/x`,
      passed: false,
      reasons: ['agreement 0.61 is below the minimum 0.9 (61 of 100 messages)'],
      report: {},
    });
    const { id, self } = await waitingDeploy(model, version);
    const res = await app.inject({ method: 'POST', url: `${self}/approve`, headers: as('only-approver'), payload: {} });
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().message).toBe(
      `v${version} cannot be promoted: it failed its shadow test ` +
        `(agreement 0.61 is below the minimum 0.9 (61 of 100 messages))`,
    );
    const reject = await app.inject({
      method: 'POST',
      url: `${self}/reject`,
      headers: as('only-approver'),
      payload: { comment: 'no' },
    });
    expect(reject.statusCode, reject.body).toBe(200);
    expect(await finished(id)).toMatchObject({ outcome: 'rejected' });
  });

  it('approves with `mloop approve` and with `temporal workflow update execute`', async () => {
    const model = `cli-approve-${suffix}`;
    const viaCli = await waitingDeploy(model, await registered(model));
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      MLOOP_API_URL: url,
      MLOOP_TOKEN: tokenOf('only-approver'),
    };
    const cli = await run(path.join(root, 'bin', 'mloop'), ['approve', viaCli.id, '--comment', 'from the terminal'], {
      env,
    });
    expect(cli.stdout).toMatch(new RegExp(`^approved ${viaCli.id} as only-approver at `));
    expect(await finished(viaCli.id)).toMatchObject({
      outcome: 'production',
      approval: { decision: { by: 'only-approver', comment: 'from the terminal' } },
    });

    const viaTemporal = await waitingDeploy(model, await registered(model));
    const temporal = process.env.MLOOP_TEMPORAL_BIN ?? path.join(config.cacheDir, 'bin', 'temporal');
    const out = await run(temporal, [
      'workflow',
      'update',
      'execute',
      '--address',
      config.temporalAddress,
      '--namespace',
      config.temporalNamespace,
      '--workflow-id',
      viaTemporal.id,
      '--name',
      'approvePromotion',
      '--input',
      JSON.stringify({ by: 'ada', comment: 'from temporal' }),
    ]);
    expect(out.stdout).toContain('ada');
    const result = await finished(viaTemporal.id);
    expect(result).toMatchObject({
      outcome: 'production',
      approval: { decision: { by: 'ada', comment: 'from temporal' } },
    });
    const events = await stack.deps.registry.listDeploymentEvents(model, 'production');
    expect(events.map((e) => e.by)).toEqual(['only-approver', 'ada']);
    // The decision is in the workflow's own history too, with who took it.
    const history = await stack.client.workflow.getHandle(viaTemporal.id).fetchHistory();
    const accepted = history.events?.find(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes,
    )?.workflowExecutionUpdateAcceptedEventAttributes;
    const args = accepted?.acceptedRequest?.input?.args?.payloads ?? [];
    expect(accepted?.acceptedRequest?.input?.name).toBe('approvePromotion');
    expect(args.map((p) => Buffer.from(p.data ?? new Uint8Array()).toString('utf8'))).toEqual([
      JSON.stringify({ by: 'ada', comment: 'from temporal' }),
    ]);
    expect(
      (await stack.client.workflow.getHandle(viaTemporal.id).query(deployStatusQuery)).approval?.decision?.by,
    ).toBe('ada');
  });

  it('rolls production back to the previous champion through the same deploy, as an approver only', async () => {
    const model = `api-rollback-${suffix}`;
    const approved = { approved: true, by: 'ada', at: new Date().toISOString() };
    const versions = [await registered(model), await registered(model)];
    for (const version of versions) {
      const handle = await stack.client.workflow.start('deployModel', {
        workflowId: `deploy/${model}/production/setup-${version}-${seq}`,
        taskQueue: stack.queues.control,
        args: [
          {
            model,
            version: { version, commitSha: 'b'.repeat(40), repoUrl: '/srv/pm', repoPath: '', artifactDigest: 'x' },
            environment: 'production',
            requestedBy: 'ada',
            preApproved: approved,
          },
        ],
      });
      await handle.result();
    }
    const denied = await app.inject({
      method: 'POST',
      url: `/v1/models/${model}/rollback`,
      headers: as('only-operator'),
      payload: { reason: 'errors' },
    });
    expect(denied.statusCode).toBe(403);
    const res = await app.inject({
      method: 'POST',
      url: `/v1/models/${model}/rollback`,
      headers: as('only-approver'),
      payload: { reason: 'error rate doubled' },
    });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toMatchObject({ from: versions[1], to: versions[0] });
    expect(await finished(res.json().id)).toMatchObject({ outcome: 'production', version: versions[0] });
    expect(releases.routed.get(`${model}/production`)?.version).toBe(versions[0]);
    const move = (await stack.deps.registry.aliasHistory(model)).at(-1);
    expect(move).toMatchObject({
      alias: 'champion',
      version: versions[0],
      by: 'only-approver',
      reason: expect.stringContaining('rollback from v'),
    });

    const retire = await app.inject({
      method: 'DELETE',
      url: `/v1/deployments/${model}/production`,
      headers: as('only-operator'),
    });
    expect(retire.statusCode, retire.body).toBe(200);
    expect(releases.routed.get(`${model}/production`)).toBeUndefined();
    const after = await app.inject({
      method: 'GET',
      url: `/v1/deployments/${model}/production`,
      headers: as('only-viewer'),
    });
    expect(after.json()).toMatchObject({ current: null });
  });

  it('answers 404 for a decision on something that does not exist, 400 for a bad body', async () => {
    const missing = await app.inject({
      method: 'POST',
      url: '/v1/lifecycles/nope/none/approve',
      headers: as('only-approver'),
      payload: {},
    });
    expect(missing.statusCode, missing.body).toBe(404);
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/deployments',
      headers: as('only-operator'),
      payload: { model: 'x', environment: 'production' },
    });
    expect(bad.statusCode, bad.body).toBe(400);
    expect(bad.json().message).toMatch(/either "version" or "alias"/);
  });
});
