import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildLifecycleRequest, lifecycleRequestProblems } from '../../cli/lifecycle-request';
import { lifecycleSchemaFile, lifecycleSchemaText } from '../../scripts/lifecycle-schema';
import { tempDir } from '../helpers/stack';

async function write(name: string, text: string): Promise<string> {
  const file = path.join(await tempDir('lifecycle-request'), name);
  await fs.writeFile(file, text);
  return file;
}

describe('lifecycle request files', () => {
  it('the published JSON Schema is the generated one (else run: npx tsx scripts/lifecycle-schema.ts)', async () => {
    expect(await fs.readFile(lifecycleSchemaFile, 'utf8')).toBe(lifecycleSchemaText());
  });

  it('reads YAML, resolves its relative paths against its folder, and lets flags win', async () => {
    const file = await write(
      'lc.yaml',
      'model: pm\nrepo: { url: ../repo, ref: main }\ndataset: { path: data/h.csv }\nparams: { a: 1, b: 2 }\n',
    );
    const dir = path.dirname(file);
    expect(buildLifecycleRequest(file, {})).toEqual({
      model: 'pm',
      repo: { url: path.resolve(dir, '../repo'), ref: 'main' },
      dataset: { path: path.join(dir, 'data/h.csv') },
      params: { a: 1, b: 2 },
    });
    const over = buildLifecycleRequest(
      file,
      { model: 'pm2', ref: 'v2', param: ['b=3', 'c=x'], repo: 'https://git.example/m.git', key: 'k1' },
      '/work',
    );
    expect(over).toMatchObject({
      model: 'pm2',
      key: 'k1',
      repo: { url: 'https://git.example/m.git', ref: 'v2' },
      params: { a: 1, b: 3, c: 'x' },
    });
  });

  it('reads the same request as JSON', async () => {
    const file = await write(
      'lc.json',
      JSON.stringify({
        model: 'pm',
        repo: { url: '/r', ref: 'main' },
        dataset: { kafka: { topic: 'sensors.history' } },
      }),
    );
    expect(buildLifecycleRequest(file, {})).toMatchObject({ dataset: { kafka: { topic: 'sensors.history' } } });
  });

  it.each([
    ['model: PM\nrepo: { url: /r, ref: main }\ndataset: { path: /d.csv }\n', 'field "model": expected string to match'],
    [
      'model: pm\nrepo: { url: /r }\ndataset: { path: /d.csv }\n' +
        'shadow: { inputTopic: t, stopAfter: {}, thresholds: {} }',
      'field "shadow.stopAfter": expected object to have at least 1 properties',
    ],
    [
      'model: pm\nrepo: { url: /r, ref: main }\ndataset: { path: /d.csv }\ntrainTimeoutMinutes: .inf\n',
      'field "trainTimeoutMinutes": expected integer (got Infinity)',
    ],
    [
      'model: pm\nrepo: { url: /r, ref: main }\ndataset: { kafka: { topic: t, from: { timestamp: yesterday } } }\n',
      'field "dataset.kafka.from.timestamp": expected string to match \'date-time\' format (got "yesterday")',
    ],
    [
      'model: pm\nrepo: { url: /r, ref: main }\ndatset: { path: /d.csv }\n',
      'field "datset": is not a field of a lifecycle request here',
    ],
    ['model: pm\nrepo: { url: /r, ref: main }\n', 'field "dataset": is required'],
    ['model: pm\nmodel: pm2\n', 'not valid YAML or JSON: Map keys must be unique'],
    ['- model: pm\n', 'must hold a mapping of request fields'],
    ['', 'must hold a mapping of request fields'],
  ])('names the problem of %j', async (text, expected) => {
    const file = await write('bad.yaml', text);
    expect(() => buildLifecycleRequest(file, {})).toThrow(expected);
  });

  it('refuses a missing file with its name, and bad --param values', () => {
    expect(() => buildLifecycleRequest('/nonexistent/lc.yaml', {})).toThrow('cannot read /nonexistent/lc.yaml: ENOENT');
    expect(() => buildLifecycleRequest(undefined, { param: ['=1'] })).toThrow(
      '--param must look like key=value (got "=1")',
    );
    expect(
      lifecycleRequestProblems({ model: 'pm', repo: { url: '/r', ref: 'main' }, dataset: { path: '/d' } }),
    ).toEqual([]);
  });

  it('refuses a file nested thousands deep before parsing it, naming the line', async () => {
    const file = await write(
      'deep.yaml',
      `model: pm
params: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`,
    );
    expect(() => buildLifecycleRequest(file, {})).toThrow(`${file}: line 2 nests more than 64 levels deep`);
  });
});
