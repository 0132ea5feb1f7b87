import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenOf } from '../helpers/auth';
import { runCli } from '../helpers/cli';
import { buildTestApp } from '../helpers/lifecycle';
import { newVersion } from '../helpers/registry';
import { startTestStack, tempDir, testNames, type TestStack } from '../helpers/stack';
import { until } from '../helpers/until';
import { deleteTopicsStartingWith } from '../api/pipelines-fixture';

/**
 * `mloop pipelines` and `mloop drift` against the real API, Temporal and Kafka: what they print
 * is read from the API's real answers, not from answers shaped by hand.
 */
describe('mloop pipelines and drift against the real API and worker', () => {
  const names = testNames('cli-pipelines');
  const p = names.prefix;
  let stack: TestStack;
  let app: FastifyInstance;
  let env: Record<string, string>;
  let dir: string;

  beforeAll(async () => {
    stack = await startTestStack('cli-pipelines');
    app = await buildTestApp(stack);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    dir = await tempDir('cli-pipelines');
    env = { MLOOP_DATA: stack.dataDir, MLOOP_API_URL: url, MLOOP_TOKEN: tokenOf('tester') };
  });
  afterAll(async () => {
    await app?.close();
    await stack?.stop();
    await deleteTopicsStartingWith(p).catch(() => undefined);
  });

  const cli = (args: string[]) => runCli(args, env);

  it('creates a pipeline from YAML, lists it, shows its units with their counts, and stops it', async () => {
    const spec = path.join(dir, 'pipeline.yaml');
    await fs.writeFile(
      spec,
      [
        `name: ${p}`,
        'topics:',
        `  - { name: ${p}.in, external: true, fields: { x: number } }`,
        `  - { name: ${p}.out }`,
        'transforms:',
        `  - { name: keep, kind: filter, input: ${p}.in, output: ${p}.out, where: "x > 1" }`,
        '',
      ].join('\n'),
    );
    // The input is external: it exists before the pipeline, as a source outside mloop writes it.
    await stack.deps.kafka.ensureTopic(`${p}.in`, 1);
    const created = await cli(['pipelines', 'create', '-f', spec]);
    expect(created.code, created.out).toBe(0);
    expect(created.stdout).toBe(`started pipeline/${p}; topics ${p}.in, ${p}.out\n`);

    await stack.deps.kafka.produce(
      `${p}.in`,
      Array.from({ length: 10 }, (_, x) => ({ key: `k${x}`, value: JSON.stringify({ x }) })),
    );
    let last = '';
    const shown = await until(
      'the filter to have read all ten records',
      async () => {
        const res = await cli(['pipelines', 'show', p]);
        last = res.out;
        return / keep +running .*consumed 10\b/m.test(res.stdout) ? res : undefined;
      },
      90_000,
      1000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last shown:\n${last}`);
    });
    expect(shown.code, shown.out).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^${p} {2}RUNNING`, 'm'));
    expect(shown.stdout).toMatch(
      /^ {2}transform +keep +running +restarts 0 {2}consumed 10, produced 8, .*filtered 2.* {2}lag 0$/m,
    );

    const listed = await cli(['pipelines']);
    expect(listed.code, listed.out).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${p} +running since \\d{4}-\\d\\d-\\d\\dT`, 'm'));
    const json = await cli(['pipelines', '--json']);
    expect(JSON.parse(json.stdout).pipelines).toContainEqual(expect.objectContaining({ name: p, id: `pipeline/${p}` }));

    const again = await cli(['pipelines', 'create', '-f', spec]);
    expect(again.code, again.out).not.toBe(0);
    expect(again.stderr).toContain(`pipeline "${p}" already exists`);

    const stopped = await cli(['pipelines', 'delete', p]);
    expect(stopped.code, stopped.out).toBe(0);
    expect(stopped.stdout).toMatch(new RegExp(`^stopped pipeline ${p}\\n${p} {2}COMPLETED`));
    const gone = await cli(['pipelines']);
    expect(gone.stdout).not.toContain(p);
  });

  it(
    'drift: an unknown model is refused by name; ' +
      'one with no production deployment is skipped, saying why, and lists no reports',
    async () => {
      const unknown = await cli(['drift', 'run', '--model', `${p}-none`]);
      expect(unknown.code, unknown.out).toBe(3);
      expect(unknown.stderr).toContain(`no model "${p}-none"`);

      const model = `${p}-nodeploy`;
      await stack.deps.registry.registerVersion(newVersion(model, `${p}-v1`));
      const run = await cli(['drift', 'run', '--model', model]);
      expect(run.code, run.out).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^drift check of ${model} \\(production\\): skipped$`, 'm'));
      expect(run.stdout).toMatch(/^reason +\S/m);
      const reports = await cli(['drift', 'reports', '--model', model]);
      expect(reports.code, reports.out).toBe(0);
      expect(reports.stdout).toBe(`no drift reports for ${model}\n`);
    },
  );
});
