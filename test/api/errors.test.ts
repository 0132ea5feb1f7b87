import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app';
import { registerErrorHandler } from '../../api/errors';
import { apiLoggerOptions } from '../../api/logging';
import { errorCodes, MloopError } from '../../core/errors';
import type { Registry } from '../../core/registry/registry';
import { as, testAuth } from '../helpers/auth';
import { recordingTemporal } from '../helpers/recording-temporal';
import { openTestRegistry } from '../helpers/registry';

const secret = 'password=hunter2 at /var/lib/secret-path';

describe('the error catalog as HTTP answers', () => {
  const logLines: string[] = [];
  let registry: Registry;
  let app: FastifyInstance;
  let failWith: Error | undefined;

  beforeAll(async () => {
    registry = await openTestRegistry('api-errors');
    // The registry fails as the test says; everything else is the real one.
    const failing = new Proxy(registry, {
      get: (target, prop) =>
        prop === 'listModels' && failWith
          ? async () => {
              throw failWith;
            }
          : (Reflect.get(target, prop, target) as unknown),
    });
    const stream = new Writable({
      write: (chunk: Buffer, _enc, done) => void (logLines.push(chunk.toString()), done()),
    });
    app = await buildApp({
      temporal: recordingTemporal().client,
      registry: failing,
      namespace: 'default',
      webUiUrl: 'http://127.0.0.1:8233',
      auth: testAuth,
      logger: apiLoggerOptions({ stream }),
    });
  });
  afterAll(async () => {
    await app?.close();
    await registry?.close();
  });

  it.each([
    ['an unexpected error', new Error(`connect ECONNREFUSED ${secret}`), 500, 'Internal', 'internal error'],
    [
      'a missing tool',
      new MloopError('ToolchainMissing', `python3 not found (${secret})`),
      500,
      'ToolchainMissing',
      'the server lacks a tool it needs',
    ],
    [
      'a busy registry',
      new MloopError('Unavailable', `lock held (${secret})`),
      503,
      'Unavailable',
      'the API is busy; try again shortly',
    ],
  ])(
    'hides the message of %s from the client and logs it under the request ID',
    async (_n, err, status, code, shown) => {
      failWith = err;
      logLines.length = 0;
      const res = await app.inject({ method: 'GET', url: '/v1/models', headers: as('only-viewer') });
      failWith = undefined;
      expect(res.statusCode, res.body).toBe(status);
      const body = res.json<{ error: string; message: string; requestId: string }>();
      expect(body.error).toBe(code);
      expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(body.message).toBe(`${shown} (request ${body.requestId}; the API log has the details)`);
      expect(res.body).not.toContain('hunter2');
      if (status === 503) expect(res.headers['retry-after']).toBe('1');
      const logged = logLines.map((l) => JSON.parse(l) as { reqId?: string; msg: string; err?: { message: string } });
      const failed = logged.find((l) => l.msg === 'request failed');
      expect(failed?.reqId).toBe(body.requestId);
      expect(failed?.err?.message).toContain('hunter2');
    },
  );

  it('gives every request its own ID', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      failWith = new Error('x');
      const res = await app.inject({ method: 'GET', url: '/v1/models', headers: as('only-viewer') });
      ids.add(res.json<{ requestId: string }>().requestId);
    }
    failWith = undefined;
    expect(ids.size).toBe(3);
  });

  it('answers 404 NotFound for a lifecycle Temporal does not know', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/lifecycles/pm/none', headers: as('only-viewer') });
    expect(res.statusCode, res.body).toBe(404);
    expect(res.json()).toEqual({ error: 'NotFound', message: 'no workflow "lifecycle/pm/none"' });
  });

  it('answers 404 NotFound for a decision on a lifecycle Temporal does not know', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/lifecycles/pm/none/approve',
      headers: as('only-approver'),
      payload: {},
    });
    expect(res.statusCode, res.body).toBe(404);
    expect(res.json()).toMatchObject({ error: 'NotFound' });
  });
});

describe("Temporal's client errors, mapped in api/errors.ts", () => {
  const app = Fastify();
  registerErrorHandler(app);
  const errors: Record<string, Error> = {
    'not-found': new WorkflowNotFoundError('workflow not found', 'lifecycle/pm/gone', undefined),
    'already-started': new WorkflowExecutionAlreadyStartedError('already started', 'lifecycle/pm/k1', 'modelLifecycle'),
    'update-refused': new WorkflowUpdateFailedError(
      'update failed',
      ApplicationFailure.create({ message: 'the promotion was already decided' }),
    ),
  };
  for (const [name, err] of Object.entries(errors))
    app.get(`/${name}`, async () => {
      throw err;
    });
  afterAll(() => app.close());

  it.each([
    ['not-found', 404, { error: 'NotFound', message: 'no workflow "lifecycle/pm/gone"' }],
    ['already-started', 409, { error: 'Conflict', message: 'workflow "lifecycle/pm/k1" was already started' }],
    ['update-refused', 409, { error: 'Conflict', message: 'the promotion was already decided' }],
  ])('%s → %i', async (name, status, body) => {
    const res = await app.inject({ method: 'GET', url: `/${name}` });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual(body);
  });
});

describe('the error catalog in the README', () => {
  it('lists every code with its status', async () => {
    const readme = await fs.readFile(path.join(import.meta.dirname, '../../README.md'), 'utf8');
    for (const [code, { httpStatus }] of Object.entries(errorCodes))
      expect(readme, code).toMatch(new RegExp(`\\| \`${code}\` \\| ${httpStatus} \\|`));
  });
});
