import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app';
import { Registry } from '../../core/registry/registry';
import { as, testAuth } from '../helpers/auth';
import { recordingTemporal } from '../helpers/recording-temporal';
import { tempDir } from '../helpers/stack';

/**
 * A spec sent as text (YAML, or JSON as text) is parsed by the API itself: nesting that would
 * overflow the parser's stack is refused first. The real Temporal client is covered by
 * pipelines.int.test.ts.
 */
describe('POST /v1/pipelines with a spec as text', () => {
  const { client: recorder, starts } = recordingTemporal();
  let app: Awaited<ReturnType<typeof buildApp>>;
  let registry: Registry;

  beforeAll(async () => {
    registry = await Registry.openSqlite(path.join(await tempDir('pipeline-text-api'), 'registry.db'));
    app = await buildApp({ temporal: recorder, registry, namespace: 'default', webUiUrl: 'http://x', auth: testAuth });
  });
  afterAll(async () => {
    await app.close();
    await registry.close();
  });

  const deep = 117_000;
  it.each([
    ['YAML flow brackets', 'text/plain', `${'['.repeat(deep)}${']'.repeat(deep)}`, /line 1 nests more than 64 levels/],
    ['YAML block indicators', 'application/yaml', `name: p\ntopics: ${'- '.repeat(deep)}x\n`, /line 2 nests more/],
    [
      'JSON as text',
      'text/plain',
      `{"name": ${'{"a":'.repeat(deep)}1${'}'.repeat(deep)}}`,
      /nested more than 64 levels/,
    ],
  ])(
    'refuses %s nested thousands deep (%s) with a 400 that says so, starting nothing',
    async (_what, type, payload, message) => {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/pipelines',
        headers: { ...as('only-operator'), 'content-type': type },
        payload,
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({
        error: 'InvalidInput',
        field: 'spec',
        message: expect.stringMatching(message),
      });
      expect(starts).toEqual([]);
    },
  );
});
