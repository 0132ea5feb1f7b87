import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { buildApp } from '../../api/app';
import { as, testAuth } from './auth';
import { config, type TestStack } from './stack';

/** The real API in front of a test stack's workers and registry. */
export function buildTestApp(stack: TestStack): Promise<FastifyInstance> {
  return buildApp({
    temporal: stack.client,
    registry: stack.deps.registry,
    namespace: config.temporalNamespace,
    webUiUrl: config.temporalUiUrl,
    controlTaskQueue: stack.queues.control,
    trainTaskQueue: stack.queues.train,
    streamTaskQueue: stack.queues.stream,
    auth: testAuth,
  });
}

/** The API path of a lifecycle from its workflow ID `lifecycle/<model>/<key>`. */
export function lifecycleUrl(id: string): string {
  const m = /^lifecycle\/([^/]+)\/([^/]+)$/.exec(id);
  if (!m) throw new Error(`"${id}" is not a lifecycle ID`);
  return `/v1/lifecycles/${m[1]}/${m[2]}`;
}

export async function startLifecycle(app: FastifyInstance, payload: object): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/v1/lifecycles', headers: as('tester'), payload });
  expect(res.statusCode, res.body).toBe(202);
  return res.json<{ id: string }>().id;
}

/** Waits for the lifecycle to close and returns what the API says about it. */
export async function finishedLifecycle<T = Record<string, unknown>>(
  app: FastifyInstance,
  stack: TestStack,
  id: string,
): Promise<T & { status: string; stage: string; error?: string }> {
  await stack.client.workflow
    .getHandle(id)
    .result()
    .catch(() => undefined);
  const res = await app.inject({ method: 'GET', url: lifecycleUrl(id), headers: as('tester') });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}
