import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app';
import { Registry } from '../../core/registry/registry';
import { as, testAuth } from '../helpers/auth';
import { recordingTemporal } from '../helpers/recording-temporal';
import { tempDir } from '../helpers/stack';

/**
 * Input validation only: the Temporal client is a recorder so the test can prove that no
 * workflow starts. The real client is covered by lifecycles.int.test.ts.
 */
describe('POST /v1/lifecycles input validation', () => {
  const { client: recorder, starts } = recordingTemporal();
  let app: Awaited<ReturnType<typeof buildApp>>;
  let registry: Registry;

  beforeAll(async () => {
    registry = await Registry.openSqlite(path.join(await tempDir('lifecycles-api'), 'registry.db'));
    const webUiUrl = 'http://127.0.0.1:8233';
    // The sample sources are made-up paths: these roots let them past the path check.
    app = await buildApp({
      temporal: recorder,
      registry,
      namespace: 'default',
      webUiUrl,
      auth: testAuth,
      allowedRoots: ['/srv/models', '/data'],
    });
  });
  afterAll(async () => {
    await app.close();
    await registry.close();
  });

  const valid = {
    model: 'pm',
    repo: { url: '/srv/models/pm', ref: 'main' },
    dataset: { path: '/data/history.csv' },
  };

  const cases: Array<[string, unknown, string]> = [
    ['missing model', { repo: valid.repo, dataset: valid.dataset }, 'body.model'],
    ['missing repo.url', { ...valid, repo: { ref: 'main' } }, 'body.repo.url'],
    ['missing dataset', { model: 'pm', repo: valid.repo }, 'body.dataset'],
    ['option injection in ref', { ...valid, repo: { url: '/srv/models/pm', ref: '--upload-pack=x' } }, 'repo.ref'],
    ['option injection in url', { ...valid, repo: { url: '--upload-pack=touch /tmp/x', ref: 'main' } }, 'repo.url'],
    ['unknown scheme', { ...valid, repo: { url: 'ftp://example.com/repo.git', ref: 'main' } }, 'repo.url'],
    ['ext transport', { ...valid, repo: { url: 'ext::sh -c touch% /tmp/pwned', ref: 'main' } }, 'repo.url'],
    ['plain http', { ...valid, repo: { url: 'http://example.com/repo.git', ref: 'main' } }, 'repo.url'],
    ['path escaping the repo', { ...valid, repo: { ...valid.repo, path: '../../etc' } }, 'repo.path'],
    ['relative dataset path', { ...valid, dataset: { path: 'data.csv' } }, 'dataset.path'],
    ['bad model name', { ...valid, model: 'Bad Name!' }, 'body.model'],
    ['unknown field', { ...valid, extra: 1 }, 'body.extra'],
    ['bad idempotency key', { ...valid, key: 'a/b' }, 'body.key'],
  ];

  it.each(cases)('rejects %s with a 400 naming the field', async (_name, payload, field) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/lifecycles',
      headers: as('tester'),
      payload: payload as object,
    });
    expect(res.statusCode, res.body).toBe(400);
    const body = res.json<{ error: string; message: string; field: string }>();
    expect(body.error).toBe('InvalidInput');
    expect(body.field).toBe(field);
    expect(body.message).toContain(field.replace(/^body\./, ''));
    expect(starts).toHaveLength(0);
  });

  it.each([
    ['a user and password', 'https://deploy:s3cr3t-pass@git.example/models.git', 's3cr3t-pass'],
    ['a token as the user name', 'https://ghp_s3cr3tT0ken@github.com/acme/models.git', 'ghp_s3cr3tT0ken'],
    ['an ssh password', 'ssh://git:s3cr3t-pass@git.example/models.git', 's3cr3t-pass'],
    ['a password before an option-like start', '-https://u:s3cr3t-pass@git.example/x', 's3cr3t-pass'],
  ])('refuses a repository URL with %s, without echoing it', async (_name, url, secret) => {
    const payload = { ...valid, repo: { url, ref: 'main' } };
    const res = await app.inject({ method: 'POST', url: '/v1/lifecycles', headers: as('tester'), payload });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: 'InvalidInput', field: 'repo.url' });
    expect(res.body).not.toContain(secret);
    expect(starts).toHaveLength(0);
  });

  it('rejects a body that is not JSON', async () => {
    const headers = { ...as('tester'), 'content-type': 'application/json' };
    const res = await app.inject({ method: 'POST', url: '/v1/lifecycles', headers, payload: '{not json' });
    expect(res.statusCode).toBe(400);
    expect(starts).toHaveLength(0);
  });
});
