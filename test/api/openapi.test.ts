import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app';
import type { Registry } from '../../core/registry/registry';
import { contractProblems, type OpenApiDocument } from '../helpers/api-contract';
import { testAuth } from '../helpers/auth';
import { recordingTemporal } from '../helpers/recording-temporal';
import { openTestRegistry } from '../helpers/registry';

describe('the OpenAPI document and Swagger UI', () => {
  let registry: Registry;
  const apps: FastifyInstance[] = [];
  const build = async (): Promise<FastifyInstance> => {
    const app = await buildApp({
      temporal: recordingTemporal().client,
      registry,
      namespace: 'default',
      webUiUrl: 'http://127.0.0.1:8233',
      auth: testAuth,
    });
    apps.push(app);
    return app;
  };
  const documentOf = async (app: FastifyInstance): Promise<OpenApiDocument> => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<OpenApiDocument>();
  };

  beforeAll(async () => {
    registry = await openTestRegistry('openapi');
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await registry?.close();
  });

  it('documents every route of the live route table with request and response schemas', async () => {
    const app = await build();
    const doc = await documentOf(app);
    expect(doc.openapi).toMatch(/^3\./);
    expect(contractProblems(app, doc)).toEqual([]);
    // The walk saw the API's routes, not an empty table.
    const documented = app.routeAccess.filter((r) => r.method !== 'HEAD' && !r.schema?.hide);
    expect(documented.length).toBeGreaterThanOrEqual(24);
    expect(doc.components?.schemas?.ErrorBody).toMatchObject({
      properties: { error: { enum: expect.arrayContaining(['NotFound']) } },
    });
  });

  it('finds a route added without schemas, so routes added later are held to the same contract', async () => {
    const app = await build();
    app.get('/v1/undocumented', { config: { role: 'viewer' } }, async () => ({}));
    app.post(
      '/v1/half',
      { config: { role: 'operator' }, schema: { body: { type: 'object' }, response: { 200: { type: 'object' } } } },
      async () => ({}),
    );
    expect(contractProblems(app, await documentOf(app))).toEqual([
      'GET /v1/undocumented: no schema',
      'POST /v1/half: no 500 response schema',
      'POST /v1/half: no 401 response schema',
      'POST /v1/half: no 403 response schema',
    ]);
  });

  it('serves Swagger UI and its assets itself, without a token', async () => {
    const app = await build();
    const page = await app.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode, page.body).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    // Every script and stylesheet is a local path: no CDN.
    const sources = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThan(2);
    expect(sources.filter((s) => /^(https?:)?\/\//.test(s))).toEqual([]);
    for (const asset of [
      '/docs/static/swagger-ui-bundle.js',
      '/docs/static/swagger-ui.css',
      '/docs/static/swagger-initializer.js',
    ]) {
      const res = await app.inject({ method: 'GET', url: asset });
      expect(res.statusCode, asset).toBe(200);
    }
    expect((await app.inject({ method: 'GET', url: '/docs/yaml' })).body).toContain('openapi: 3.');
  });
});
