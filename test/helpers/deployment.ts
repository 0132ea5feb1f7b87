import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { featureColumns, historicalRows } from '../../examples/predictive-maintenance/data/sensors';
import { sha256File } from '../../core/artifacts/store';
import type { DeploymentId } from '../../core/deploy/names';
import type { HaproxyProxy } from '../../core/deploy/proxy';
import type { DeploymentRuntime, Instance, InstanceSpec } from '../../core/deploy/runtime';
import { PythonRuntime } from '../../core/python/runtime';
import { KServeClient, type FeatureSpec } from '../../core/serving/kserve-client';
import { continuousRequests } from './load';
import { createExampleDataset, createExampleModelRepo } from './model-repo';
import { config, tempDir } from './stack';

const run = promisify(execFile);
export const features: FeatureSpec[] = featureColumns.map((name) => ({ name, type: 'number' }));

/** Two trained versions of the example model, at a real commit of a real repository. */
export async function trainTwoVersions(model: string): Promise<[InstanceSpec, InstanceSpec]> {
  const repo = await createExampleModelRepo();
  const modelDir = path.join(repo.url, repo.path);
  const runtime = new PythonRuntime({ python: config.pythonExecutable, runtimeDir: config.runtimeDir });
  const dataset = await createExampleDataset(1500, 42);
  const specs: InstanceSpec[] = [];
  for (const [i, params] of [{ n_estimators: 20 }, { n_estimators: 40 }].entries()) {
    const outDir = path.join(await tempDir(`${model}-v${i + 1}`), 'out');
    await runtime.train({ modelDir, dataset, outDir, params, seed: 0, holdoutFraction: 0.2 });
    const artifactPath = path.join(outDir, 'model.joblib');
    specs.push({
      model,
      environment: 'production',
      version: i + 1,
      replica: 0,
      sha: repo.sha,
      artifactDigest: `sha256:${await sha256File(artifactPath)}`,
      modelDir,
      artifactPath,
      resources: { memoryMb: 768, cpus: 0.5, pids: 128 },
      readyTimeoutMs: 180_000,
    });
  }
  return specs as [InstanceSpec, InstanceSpec];
}

const rows = [...historicalRows(64, 11)];

/** A binary tensor data request (what tritonclient sends by default), decoded by hand. */
export async function binaryInfer(
  url: string,
  model: string,
): Promise<{ version: string; predictions: number[]; probabilities: number[] }> {
  const inputs = features.map((f) => ({
    name: f.name,
    shape: [rows.length],
    datatype: 'FP64',
    parameters: { binary_data_size: rows.length * 8 },
  }));
  const header = Buffer.from(JSON.stringify({ inputs, parameters: { binary_data_output: true } }));
  const blobs = features.map((f) => {
    const b = Buffer.alloc(rows.length * 8);
    rows.forEach((r, i) => b.writeDoubleLE((r as unknown as Record<string, number>)[f.name] ?? NaN, i * 8));
    return b;
  });
  const res = await fetch(`${url}/v2/models/${model}/infer`, {
    method: 'POST',
    body: Buffer.concat([header, ...blobs]),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
  });
  const body = Buffer.from(await res.arrayBuffer());
  expect(res.status, body.toString().slice(0, 300)).toBe(200);
  const length = Number(res.headers.get('inference-header-content-length'));
  const json = JSON.parse(body.subarray(0, length).toString()) as {
    model_version: string;
    outputs: Array<{ name: string; datatype: string; parameters: { binary_data_size: number } }>;
  };
  let offset = length;
  const out: Record<string, number[]> = {};
  for (const o of json.outputs) {
    const blob = body.subarray(offset, offset + o.parameters.binary_data_size);
    offset += o.parameters.binary_data_size;
    const values: number[] = [];
    for (let i = 0; i < blob.length; i += 8)
      values.push(o.datatype === 'INT64' ? Number(blob.readBigInt64LE(i)) : blob.readDoubleLE(i));
    out[o.name] = values;
  }
  expect(offset).toBe(body.length);
  return { version: json.model_version, predictions: out.predictions ?? [], probabilities: out.probabilities ?? [] };
}

/** tritonclient, a standard V2 client, with its defaults (binary tensors both ways). */
async function tritonInfer(url: string, model: string): Promise<{ version: string; predictions: number[] }> {
  const script = `
import json, sys
import numpy as np
import tritonclient.http as triton
url, model, rows = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
client = triton.InferenceServerClient(url=url)
assert client.is_server_ready() and client.is_model_ready(model)
inputs = []
for name in ${JSON.stringify(featureColumns)}:
    t = triton.InferInput(name, [len(rows)], "FP64")
    t.set_data_from_numpy(np.array([r[name] for r in rows], dtype=np.float64))
    inputs.append(t)
result = client.infer(model, inputs)
answer = {"version": result.get_response()["model_version"], "predictions": result.as_numpy("predictions").tolist()}
print(json.dumps(answer))
`;
  const { stdout } = await run(config.pythonExecutable, [
    '-c',
    script,
    url.replace(/^http:\/\//, ''),
    model,
    JSON.stringify(rows),
  ]);
  return JSON.parse(stdout) as { version: string; predictions: number[] };
}

/** V2 ready, metadata and infer (JSON, binary by hand, tritonclient) on the endpoint all agree. */
export async function checkV2(url: string, model: string, version: number): Promise<void> {
  const client = new KServeClient(url, model);
  expect(await client.ready()).toBe(true);
  expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);
  const metadata = await client.metadata();
  expect(metadata).toMatchObject({ name: model, versions: [String(version)] });
  expect(metadata.inputs.map((i) => i.name)).toEqual([...featureColumns]);
  const json = await client.infer(rows, features);
  expect(json.predictions).toHaveLength(rows.length);
  const binary = await binaryInfer(url, model);
  expect(binary.version).toBe(String(version));
  expect(binary.predictions).toEqual(json.predictions);
  binary.probabilities.forEach((p, i) => expect(p).toBeCloseTo(json.probabilities?.[i] ?? NaN, 12));
  const triton = await tritonInfer(url, model);
  expect(triton).toEqual({ version: String(version), predictions: json.predictions });
}

const jsonInfer = (url: string, model: string): Promise<Response> =>
  fetch(`${url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      inputs: features.map((f) => ({ name: f.name, shape: [1], datatype: 'FP64', data: [rows[0]?.[f.name as 'rpm']] })),
    }),
  });

/** Puts an instance behind the endpoint and sends it the traffic (the proxy's side of a deploy). */
export async function promote(proxy: HaproxyProxy, id: DeploymentId, instance: Instance): Promise<void> {
  await proxy.addServer(id, { name: instance.name, host: instance.host, port: instance.port });
  await proxy.waitForHealthy(id, instance.name, { timeoutMs: 30_000 });
  await proxy.switchTo(id, instance.name);
}

/**
 * The deployment scenario both backends pass: v1 behind the stable endpoint answers V2; then a
 * blue/green switch to v2 under continuous requests loses none; then v1 is stopped and removed.
 */
export async function deployAndSwitch(
  runtime: DeploymentRuntime,
  proxy: HaproxyProxy,
  specs: [InstanceSpec, InstanceSpec],
): Promise<void> {
  const [v1, v2] = specs;
  const id = { model: v1.model, environment: v1.environment };
  const endpoint = await proxy.ensureEndpoint(id);
  const blue = await runtime.ensure(v1);
  expect(blue).toMatchObject({
    name: expect.stringContaining(`.${v1.model}.production.v1.r0`),
    version: 1,
    sha: v1.sha,
    runtime: runtime.kind,
  });
  await promote(proxy, id, blue);
  await checkV2(endpoint.url, v1.model, 1);

  const green = await runtime.ensure(v2);
  const load = continuousRequests(() => jsonInfer(endpoint.url, v1.model), { workers: 2 });
  await proxy.addServer(id, { name: green.name, host: green.host, port: green.port });
  await proxy.waitForHealthy(id, green.name, { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 500));
  await proxy.switchTo(id, green.name);
  await new Promise((r) => setTimeout(r, 500));
  await proxy.removeServer(id, blue.name);
  await runtime.remove(v1);
  await new Promise((r) => setTimeout(r, 500));
  const report = await load.stop();
  console.log(
    `${runtime.kind} blue/green v1 -> v2 through ${endpoint.url}: sent ${report.sent}, failed ${report.failed}`,
    report.byVersion,
  );
  expect(report.failures).toEqual([]);
  expect(report.failed).toBe(0);
  expect(report.byVersion['1']).toBeGreaterThan(0);
  expect(report.byVersion['2']).toBeGreaterThan(0);
  await checkV2(endpoint.url, v1.model, 2);
  expect(await runtime.get(v1)).toBeUndefined();
  expect((await runtime.list(id)).map((i) => i.version)).toEqual([2]);
}
