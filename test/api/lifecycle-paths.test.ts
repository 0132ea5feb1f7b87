import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app';
import { Registry } from '../../core/registry/registry';
import { recordingTemporal } from '../helpers/recording-temporal';
import { tempDir } from '../helpers/stack';
import { as, testAuth } from '../helpers/auth';

/** Which local paths a request may name; the Temporal client only records, to prove nothing starts. */
describe('POST /v1/lifecycles: local repositories and datasets inside the allowed roots', () => {
  const { client: recorder, starts } = recordingTemporal();
  let app: Awaited<ReturnType<typeof buildApp>>;
  let registry: Registry;
  let root: string;
  let outside: string;

  beforeAll(async () => {
    root = await tempDir('api-root');
    outside = await tempDir('api-outside');
    await fs.mkdir(path.join(root, 'repo'));
    await fs.writeFile(path.join(root, 'data.csv'), 'x\n');
    await fs.writeFile(path.join(outside, 'secrets.csv'), 'DB_PASSWORD\n');
    await fs.symlink(path.join(outside, 'secrets.csv'), path.join(root, 'innocent.csv'));
    registry = await Registry.openSqlite(path.join(await tempDir('api-paths-registry'), 'registry.db'));
    const webUiUrl = 'http://127.0.0.1:8233';
    app = await buildApp({
      temporal: recorder,
      registry,
      namespace: 'default',
      webUiUrl,
      allowedRoots: [root],
      auth: testAuth,
    });
  });
  afterAll(async () => {
    await app.close();
    await registry.close();
  });

  const body = (repoUrl: string, dataset: string): object => ({
    model: 'pm',
    repo: { url: repoUrl, ref: 'main' },
    dataset: { path: dataset },
  });
  const repoIn = (): string => path.join(root, 'repo');

  it.each([
    ['a repository outside the roots', () => body(outside, path.join(root, 'data.csv')), 'repo.url'],
    ['a file:// repository outside', () => body(`file://${outside}`, path.join(root, 'data.csv')), 'repo.url'],
    ['a dataset outside the roots', () => body(repoIn(), path.join(outside, 'secrets.csv')), 'dataset.path'],
    ['a dataset symlink leading out', () => body(repoIn(), path.join(root, 'innocent.csv')), 'dataset.path'],
    ['a dataset path with ".."', () => body(repoIn(), `${root}/../${path.basename(outside)}/x.csv`), 'dataset.path'],
  ])('answers 400 for %s and starts nothing', async (_name, payload, field) => {
    const res = await app.inject({ method: 'POST', url: '/v1/lifecycles', headers: as('tester'), payload: payload() });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: 'InvalidInput', field });
    expect(res.body).not.toContain('DB_PASSWORD');
    expect(starts).toHaveLength(0);
  });

  it('starts a lifecycle whose repository and dataset are inside the roots', async () => {
    const payload = body(repoIn(), path.join(root, 'data.csv'));
    const res = await app.inject({ method: 'POST', url: '/v1/lifecycles', headers: as('tester'), payload });
    expect(res.statusCode, res.body).toBe(202);
    expect(starts).toHaveLength(1);
  });
});
