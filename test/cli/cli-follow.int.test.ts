import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenOf } from '../helpers/auth';
import { runCli } from '../helpers/cli';
import { buildTestApp } from '../helpers/lifecycle';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { startTestStack, tempDir, type TestStack } from '../helpers/stack';

const raisingTrain = `def train(X, y, params):\n    raise ValueError("sensor calibration table missing")\n`;

describe('mloop lifecycle start --follow against the real API and worker', () => {
  let stack: TestStack;
  let app: FastifyInstance;
  let env: Record<string, string>;
  let dir: string;

  beforeAll(async () => {
    stack = await startTestStack('cli-follow');
    app = await buildTestApp(stack);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    dir = await tempDir('cli-follow');
    env = { MLOOP_DATA: stack.dataDir, MLOOP_API_URL: url, MLOOP_TOKEN: tokenOf('tester') };
  });
  afterAll(async () => {
    await app?.close();
    await stack?.stop();
  });

  /** A request file beside its dataset, which it names by a relative path. */
  async function requestFile(model: string, overrides: Record<string, string> = {}): Promise<string> {
    const repo = await createExampleModelRepo(overrides);
    const dataset = await createExampleDataset(1000, 42);
    const folder = await fs.mkdtemp(path.join(dir, 'req-'));
    await fs.copyFile(dataset, path.join(folder, 'history.csv'));
    const file = path.join(folder, 'lifecycle.yaml');
    const yaml = [
      `# yaml-language-server: $schema=../../docs/schemas/lifecycle.schema.json`,
      `model: ${model}`,
      `repo: { url: ${repo.url}, ref: main, path: ${repo.path} }`,
      `dataset: { path: history.csv }`,
      '',
    ].join('\n');
    await fs.writeFile(file, yaml);
    return file;
  }

  it('shows progress lines and exits 0 when the lifecycle completes', async () => {
    const model = `pm-cli-ok-${randomUUID().slice(0, 6)}`;
    const res = await runCli(
      ['lifecycle', 'start', '-f', await requestFile(model), '--follow', '--interval', '100'],
      env,
    );
    expect(res.code, res.out).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^started lifecycle/${model}/`, 'm'));
    // Not a terminal: one line per change, among them the train stage with its bar.
    expect(res.stdout).toMatch(/^train +\[[#.]{24}\] +\d+%/m);
    expect(res.stdout).toMatch(/COMPLETED {2}stage: done$/m);
    expect(res.stdout).toMatch(/^version +1$/m);
    expect(res.stdout).not.toContain('\x1b[');
  });

  it('exits 1 and says why when the lifecycle fails', async () => {
    const model = `pm-cli-fail-${randomUUID().slice(0, 6)}`;
    const res = await runCli(
      [
        'lifecycle',
        'start',
        '-f',
        await requestFile(model, { 'train.py': raisingTrain }),
        '--follow',
        '--interval',
        '100',
      ],
      env,
    );
    expect(res.code, res.out).toBe(1);
    expect(res.stdout).toMatch(/^train +\[/m);
    expect(res.stdout).toMatch(/FAILED {2}stage: failed$/m);
    expect(res.stderr).toMatch(
      new RegExp(
        `mloop: lifecycle lifecycle/${model}/\\S+ did not succeed: .*ValueError: sensor calibration table missing`,
      ),
    );
  });

  it('--json prints JSON that parses: one object per change with --follow, and the status and models', async () => {
    const model = `pm-cli-json-${randomUUID().slice(0, 6)}`;
    const res = await runCli(
      ['lifecycle', 'start', '-f', await requestFile(model), '--follow', '--json', '--interval', '100'],
      env,
    );
    expect(res.code, res.out).toBe(0);
    const lines = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; status?: string; stage?: string });
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const id = lines[0]!.id;
    expect(lines.at(-1)).toMatchObject({ id, status: 'COMPLETED', stage: 'done' });

    const status = await runCli(['status', id, '--json'], env);
    expect(status.code, status.out).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ id, status: 'COMPLETED', version: 1 });
    const models = await runCli(['models', '--json'], env);
    expect(models.code, models.out).toBe(0);
    expect((JSON.parse(models.stdout) as { models: Array<{ name: string }> }).models.map((m) => m.name)).toContain(
      model,
    );
    const show = await runCli(['models', 'show', model, '--json'], env);
    expect(show.code, show.out).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ name: model, versions: [{ version: 1 }] });
  });

  it('exit codes: 2 usage, 3 not found, 4 token refused, 5 API unreachable', async () => {
    const bad = path.join(dir, 'bad.yaml');
    await fs.writeFile(bad, 'model: pm\nrepo: { url: /tmp/x, ref: main }\ndataset: { path: 7 }\n');
    const badFile = await runCli(['lifecycle', 'start', '-f', bad], env);
    expect(badFile.code, badFile.out).toBe(2);
    expect(badFile.stderr).toContain('field "dataset.path": expected string (got 7)');
    expect((await runCli(['lifecycle', 'start', '--modle', 'x'], env)).code).toBe(2);
    expect((await runCli(['deploy', '--model', 'x', '--env', 'qa', '--version', '1'], env)).code).toBe(2);
    expect((await runCli(['status', 'not-a-lifecycle-id'], env)).code).toBe(2);

    const missing = await runCli(['status', 'lifecycle/nope/none'], env);
    expect(missing.code, missing.out).toBe(3);
    expect(missing.stderr).toContain('→ 404');
    expect((await runCli(['models', 'show', 'no-such-model'], env)).code).toBe(3);

    const refused = await runCli(['models'], { ...env, MLOOP_TOKEN: 'mloop_notarealtoken0000000000' });
    expect(refused.code, refused.out).toBe(4);
    expect(refused.stderr).toContain('the token from MLOOP_TOKEN was refused');
    const tooWeak = await runCli(['rollback', '--model', 'x', '--reason', 'r'], {
      ...env,
      MLOOP_TOKEN: tokenOf('only-viewer'),
    });
    expect(tooWeak.code, tooWeak.out).toBe(4);

    const down = await runCli(['models'], { ...env, MLOOP_API_URL: 'http://127.0.0.1:1' });
    expect(down.code, down.out).toBe(5);
    expect(down.stderr).toContain('cannot reach the mloop API at http://127.0.0.1:1');

    const help = await runCli(['drift', 'run', '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--json');
  });
});
