import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MloopError } from '../../../core/errors';
import { ProcessRuntime } from '../../../core/deploy/process-runtime';
import type { InstanceSpec } from '../../../core/deploy/runtime';
import { deployAndSwitch, trainTwoVersions } from '../../helpers/deployment';
import { processesMentioning } from '../../helpers/processes';
import { startTestProxy, type TestProxy } from '../../helpers/proxy';
import { config, tempDir } from '../../helpers/stack';
import { until } from '../../helpers/until';

const root = path.resolve(import.meta.dirname, '../../..');
const run = promisify(execFile);

describe('process backend behind the proxy (real model servers, real HAProxy)', () => {
  let proxy: TestProxy;
  let specs: [InstanceSpec, InstanceSpec];
  let deployments: string;
  const runtime = (): ProcessRuntime =>
    new ProcessRuntime({
      root: deployments,
      scope: 'test',
      python: config.pythonExecutable,
      runtimeDir: config.runtimeDir,
    });

  beforeAll(async () => {
    [proxy, specs] = await Promise.all([startTestProxy('process'), trainTwoVersions('pm-process')]);
    deployments = path.join(await tempDir('process-deployments'), 'deployments');
  });
  afterAll(async () => {
    for (const spec of specs ?? []) await runtime().remove(spec);
    await proxy?.destroy();
    expect(processesMentioning(deployments ?? '/nonexistent')).toBe('');
  });

  it('serves V2 (JSON, binary, tritonclient) on its endpoint, switches blue/green losing nothing', async () => {
    await deployAndSwitch(runtime(), proxy.proxy, specs);
  });

  it('adopts its running server on a retry and from another worker: one process per instance', async () => {
    const [, v2] = specs;
    const first = await runtime().ensure(v2);
    const [again, other] = await Promise.all([runtime().ensure(v2), runtime().ensure(v2)]);
    expect(again.ref).toBe(first.ref);
    expect(other.ref).toBe(first.ref);
    expect(processesMentioning(path.join(deployments, first.name, 'run', 'server.pid')).split('\n')).toHaveLength(1);
  });

  it('a worker SIGKILLed while starting an instance leaves one server, which the next attempt adopts', async () => {
    const spec = { ...specs[0], environment: 'staging' };
    const script = `
      import { ProcessRuntime } from ${JSON.stringify(path.join(root, 'core/deploy/process-runtime.ts'))};
      const spec = JSON.parse(process.argv[2]);
      void new ProcessRuntime(JSON.parse(process.argv[1])).ensure(spec);
    `;
    const opts = { root: deployments, scope: 'test', python: config.pythonExecutable, runtimeDir: config.runtimeDir };
    const worker = spawn(
      path.join(root, 'node_modules/.bin/tsx'),
      ['-e', script, JSON.stringify(opts), JSON.stringify(spec)],
      { stdio: 'ignore' },
    );
    const pidFile = path.join(deployments, 'mloop-test.pm-process.staging.v1.r0', 'run', 'server.pid');
    const started = await until(
      'the server to write its pid file',
      () =>
        fs.readFile(pidFile, 'utf8').then(
          (t) => t.trim(),
          () => undefined,
        ),
      60_000,
      20,
    );
    worker.kill('SIGKILL');
    const adopted = await runtime().ensure(spec);
    expect(adopted.ref).toBe(started);
    expect(processesMentioning(pidFile).split('\n')).toHaveLength(1);
    await runtime().remove(spec);
    expect(processesMentioning(pidFile)).toBe('');
  });

  it('a model that cannot load fails with DeploymentFailed and the server log', async () => {
    const spec = { ...specs[0], environment: 'broken', modelDir: await tempDir('broken-model') };
    await fs.cp(specs[0].modelDir, spec.modelDir, { recursive: true });
    await fs.writeFile(path.join(spec.modelDir, 'predict.py'), 'raise RuntimeError("predict module is broken")\n');
    const err = await runtime()
      .ensure(spec)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MloopError);
    expect((err as MloopError).code).toBe('DeploymentFailed');
    expect((err as MloopError).message).toMatch(/exited before it was ready.*predict module is broken/s);
  });

  it('are stopped by `mloop dev down` through their pid files', async () => {
    const spec = { ...specs[0], environment: 'down' };
    const instance = await runtime().ensure(spec);
    const script = 'source scripts/lib/common.sh && source scripts/lib/deployments.sh && deployment_processes_stop';
    await run('bash', ['-c', script], { cwd: root, env: { ...process.env, MLOOP_DATA: path.dirname(deployments) } });
    expect(processesMentioning(path.join(deployments, instance.name))).toBe('');
    expect(await runtime().get(spec)).toBeUndefined();
    await runtime().remove(spec);
  });

  it('refuses an artifact whose bytes do not match the digest, naming the field', async () => {
    const spec = { ...specs[0], environment: 'qa', artifactDigest: `sha256:${'0'.repeat(64)}` };
    await expect(runtime().ensure(spec)).rejects.toThrow(
      /^artifactPath: .* has digest sha256:[0-9a-f]{64}, not sha256:0{64}/,
    );
    await expect(runtime().ensure({ ...spec, sha: 'main' })).rejects.toThrow(/^sha: "main" is not a commit SHA/);
    await expect(runtime().ensure({ ...spec, resources: { memoryMb: Number.NaN } })).rejects.toThrow(
      /^resources.memoryMb: NaN/,
    );
  });
});
