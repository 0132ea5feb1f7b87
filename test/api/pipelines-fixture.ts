import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { buildApp } from '../../api/app';
import { ProcessRuntime } from '../../core/deploy/process-runtime';
import type { Instance } from '../../core/deploy/runtime';
import { createKafka } from '../../core/kafka/transactions';
import type { PipelineSpec } from '../../core/pipeline/spec';
import { runnerAccount } from '../../core/security/runner-account';
import { testAuth } from '../helpers/auth';
import { promote, trainTwoVersions } from '../helpers/deployment';
import { newVersion } from '../helpers/registry';
import { startTestProxy, type TestProxy } from '../helpers/proxy';
import { config, startTestStack, testNames, type TestStack } from '../helpers/stack';

/**
 * The example model behind real deployments for the pipeline tests: v1 serves `production` and
 * v2 `staging`, each as a model-server process behind its stable endpoint on a private HAProxy,
 * and the registry of a test stack says so. The API runs in front of the stack's workers.
 */
export interface PipelineFixture {
  stack: TestStack;
  app: FastifyInstance;
  model: string;
  endpoints: { production: string; staging: string };
  /** The servers themselves, to score directly. */
  servers: { v1: string; v2: string };
  stop(): Promise<void>;
}

export async function startPipelineFixture(name: string): Promise<PipelineFixture> {
  const model = 'predictive-maintenance';
  const names = testNames(name);
  const proxy: TestProxy = await startTestProxy(name);
  const stack = await startTestStack(name).catch(async (err: unknown) => {
    await proxy.destroy();
    throw err;
  });
  const instances: Instance[] = [];
  // A setup that fails halfway stops what it started: servers, the stack and the proxy.
  const release = async (): Promise<void> => {
    for (const i of instances) await runtime.remove(i).catch(() => undefined);
    await stack.stop();
    await proxy.destroy();
  };
  const runtime = new ProcessRuntime({
    root: path.join(stack.deps.workDir, 'deployments'),
    scope: names.prefix.replace(/[^a-z0-9]/g, '').slice(-16),
    python: config.pythonExecutable,
    runtimeDir: config.runtimeDir,
    account: await runnerAccount(config.runnerUser),
  });
  try {
    return await deployAndServe();
  } catch (err) {
    await release();
    throw err;
  }

  async function deployAndServe(): Promise<PipelineFixture> {
    const [v1, v2] = await trainTwoVersions(model);
    for (const v of [v1, v2]) {
      await stack.deps.registry.registerVersion(
        newVersion(model, `${names.prefix}-v${v.version}`, { commitSha: v.sha, artifactDigest: v.artifactDigest }),
      );
    }
    const endpoints = { production: '', staging: '' };
    for (const [environment, spec] of [
      ['production', v1],
      ['staging', { ...v2, environment: 'staging' }],
    ] as const) {
      const id = { model, environment };
      const endpoint = await proxy.proxy.ensureEndpoint(id);
      const instance = await runtime.ensure(spec);
      instances.push(instance);
      await promote(proxy.proxy, id, instance);
      endpoints[environment] = endpoint.url;
      await stack.deps.registry.recordDeploymentEvent({
        key: `${names.prefix}-${environment}`,
        model,
        environment,
        version: spec.version,
        outcome: environment === 'production' ? 'production' : 'staged',
        endpoint: endpoint.url,
        by: 'tester',
        decision: null,
        status: {},
        workflowId: `deploy/${model}/${environment}/${names.prefix}`,
      });
    }
    const app = await buildApp({
      temporal: stack.client,
      registry: stack.deps.registry,
      kafka: stack.deps.kafka,
      namespace: config.temporalNamespace,
      webUiUrl: config.temporalUiUrl,
      controlTaskQueue: stack.queues.control,
      trainTaskQueue: stack.queues.train,
      streamTaskQueue: stack.queues.stream,
      pipelineReportIntervalMs: 300,
      auth: testAuth,
    });
    return {
      stack,
      app,
      model,
      endpoints,
      servers: { v1: instances[0]?.url ?? '', v2: instances[1]?.url ?? '' },
      async stop() {
        await app.close();
        await release();
      },
    };
  }
}

/** The example pipeline of examples/, as a test runs it: its own topics, table and receivers. */
export async function examplePipeline(): Promise<PipelineSpec> {
  const file = path.resolve(import.meta.dirname, '../../examples/predictive-maintenance/pipeline.yaml');
  return parseYaml(await fs.readFile(file, 'utf8')) as PipelineSpec;
}

/** Renames every topic of a spec under `prefix`, so tests on the shared broker never meet. */
export function withTopicPrefix(spec: PipelineSpec, prefix: string): PipelineSpec {
  const t = (name: string): string => `${prefix}.${name}`;
  return {
    ...spec,
    name: prefix,
    topics: spec.topics.map((x) => ({ ...x, name: t(x.name) })),
    sources: spec.sources?.map((x) => ({ ...x, topic: t(x.topic) })),
    transforms: spec.transforms.map((x) => ({ ...x, input: t(x.input), output: t(x.output) })),
    sinks: spec.sinks?.map((x) => ({ ...x, topic: t(x.topic) })),
  };
}

export async function topicsStartingWith(prefix: string): Promise<string[]> {
  const admin = createKafka(config.kafkaBrokers, 'mloop-test-topics').admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).filter((x) => x.startsWith(prefix));
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopicsStartingWith(prefix: string): Promise<void> {
  const topics = await topicsStartingWith(prefix);
  if (topics.length === 0) return;
  const admin = createKafka(config.kafkaBrokers, 'mloop-test-topics').admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}
