import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MloopError } from '../../../core/errors';
import { PythonRuntime } from '../../../core/python/runtime';
import { startModelServer } from '../../../core/serving/model-server';
import { createExampleDataset } from '../../helpers/model-repo';
import { config, tempDir } from '../../helpers/stack';

const exampleModel = path.resolve(import.meta.dirname, '../../../examples/predictive-maintenance/model');
const asRoot = process.getuid?.() === 0;
const split = { seed: 0, holdoutFraction: 0.2 };
const runtimeVars = 'PYTHON(PATH|UNBUFFERED|HASHSEED|DONTWRITEBYTECODE|NOUSERSITE)';
const allowedEnv = new RegExp(`^(PATH|HOME|TMPDIR|LANG|LC_[A-Z_]+|TZ|OPENBLAS_[A-Z_]+|OMP_[A-Z_]+|${runtimeVars})$`);

/** The example model, whose training also reports who it runs as and what it can see. */
const spyTrainPy = (secretFile: string, ownDir: string): string => `import json, os
from sklearn.dummy import DummyClassifier


def train(X, y, params):
    try:
        open(${JSON.stringify(secretFile)}).read()
        secret = "readable"
    except OSError as e:
        secret = type(e).__name__
    # The environment the process was started with (libraries add to os.environ later).
    with open("/proc/self/environ", "rb") as f:
        env = dict(kv.decode().split("=", 1) for kv in f.read().split(b"\\0") if kv)
    print("SPY " + json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "env": env,
                               "in_place": os.getcwd() == ${JSON.stringify(ownDir)}, "secret": secret}), flush=True)
    return DummyClassifier().fit(X, y)
`;

async function spyModel(parentMode: number, secretFile: string): Promise<string> {
  const parent = await tempDir('spy-model');
  await fs.chmod(parent, parentMode);
  const dir = path.join(parent, 'model');
  await fs.cp(exampleModel, dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'train.py'), spyTrainPy(secretFile, dir));
  return dir;
}

const runnerIds = (): { uid: number; gid: number } => {
  const [, , uid, gid] = execFileSync('getent', ['passwd', config.runnerUser], { encoding: 'utf8' }).split(':');
  return { uid: Number(uid), gid: Number(gid) };
};

const rejection = (p: Promise<unknown>): Promise<MloopError> =>
  p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e as MloopError,
  );

interface Spy {
  uid: number;
  gid: number;
  groups: number[];
  env: Record<string, string>;
  in_place: boolean;
  secret: string;
}

describe('model code runs with least privilege (real Python)', () => {
  const options = { python: config.pythonExecutable, runtimeDir: config.runtimeDir, runnerUser: config.runnerUser };
  const runtime = new PythonRuntime(options);
  const planted = ['MLOOP_TEST_DB_PASSWORD', 'AWS_SECRET_ACCESS_KEY', 'PYTHONSTARTUP'];
  afterEach(() => {
    for (const k of planted) delete process.env[k];
  });

  async function trainSpy(modelDir: string, dataset: string, outDir: string): Promise<Spy> {
    let spy: Spy | undefined;
    await runtime.train(
      { modelDir, dataset, outDir, ...split },
      { onEvent: (e) => e.event === 'log' && e.line.startsWith('SPY ') && (spy = JSON.parse(e.line.slice(4)) as Spy) },
    );
    if (!spy) throw new Error('the model did not report');
    return spy;
  }

  it('trains with an allow-listed environment and, under a root worker, as the runner account', async () => {
    process.env.MLOOP_TEST_DB_PASSWORD = 'hunter2';
    process.env.AWS_SECRET_ACCESS_KEY = 'AKIA-not-for-models';
    process.env.PYTHONSTARTUP = '/etc/evil.py';
    const secretDir = await tempDir('worker-secret');
    const secretFile = path.join(secretDir, 'token');
    await fs.writeFile(secretFile, 'root only', { mode: 0o600 });
    const outDir = path.join(await tempDir('spy-out'), 'out');

    const spy = await trainSpy(await spyModel(0o755, secretFile), await createExampleDataset(200), outDir);

    const leaked = Object.keys(spy.env).filter((k) => !allowedEnv.test(k));
    const counts = `${Object.keys(spy.env).length} variables (the worker has ${Object.keys(process.env).length})`;
    console.log(`model process: uid ${spy.uid}, ${counts}`);
    expect(leaked).toEqual([]);
    expect(JSON.stringify(spy.env)).not.toContain('hunter2');
    expect(spy.env.HOME).not.toBe(process.env.HOME);
    expect(spy.env.PYTHONHASHSEED).toBe('0');
    expect(spy.in_place).toBe(true);
    // The artifact came back to the worker, all of it and nothing else.
    expect((await fs.readdir(outDir)).sort()).toEqual(['metrics.json', 'model.joblib']);
    if (asRoot) {
      expect({ uid: spy.uid, gid: spy.gid }).toEqual(runnerIds());
      expect(spy.groups).not.toContain(0);
      expect(spy.secret).toBe('PermissionError');
      expect((await fs.stat(path.join(outDir, 'model.joblib'))).uid).toBe(0);
    }
    // The sandbox (its HOME) is gone once the run is over.
    await expect(fs.stat(path.dirname(spy.env.HOME ?? '/nonexistent'))).rejects.toThrow();
  });

  it.runIf(asRoot)('stages a model folder and dataset the runner cannot reach; errors name the originals', async () => {
    const privateModel = await spyModel(0o700, '/nonexistent');
    const dataset = await createExampleDataset(200); // in a 0700 folder too
    const spy = await trainSpy(privateModel, dataset, path.join(await tempDir('spy-out'), 'out'));
    expect(spy.in_place).toBe(false);
    expect(spy.uid).toBe(runnerIds().uid);

    await fs.writeFile(path.join(privateModel, 'mloop.yaml'), 'name: pm\ntask: clustering\n');
    const outDir = path.join(await tempDir('spy-out'), 'out');
    const err = await rejection(runtime.train({ modelDir: privateModel, dataset, outDir, ...split }));
    expect(err.code).toBe('InvalidManifest');
    expect(err.message).toContain(`${privateModel}/mloop.yaml: field 'task'`);
  });

  it.runIf(asRoot)('copies back only regular files: a link planted as the artifact is not followed', async () => {
    const secretFile = path.join(await tempDir('worker-secret'), 'token');
    await fs.writeFile(secretFile, 'root only', { mode: 0o600 });
    const fake = await tempDir('fake-runtime');
    await fs.chmod(fake, 0o755);
    const python = path.join(fake, 'python');
    await fs.writeFile(
      python,
      `#!/bin/sh
while [ "$#" -gt 0 ]; do [ "$1" = --out ] && out=$2; shift; done
mkdir -p "$out" && ln -s ${secretFile} "$out/model.joblib"
echo '{"event":"result","artifact":"model.joblib","metrics":{}}'
`,
      { mode: 0o755 },
    );
    const outDir = path.join(await tempDir('link-out'), 'out');
    const dataset = await createExampleDataset(20);
    const fakeRuntime = new PythonRuntime({ python, runtimeDir: config.runtimeDir });
    const err = await rejection(fakeRuntime.train({ modelDir: exampleModel, dataset, outDir, ...split }));
    expect(err.message).toContain('the model process did not write "model.joblib" as a file');
    await expect(fs.stat(outDir)).rejects.toThrow();
  });

  it.runIf(asRoot)('refuses to start when the runner account is missing or cannot run the Python', async () => {
    const dataset = await createExampleDataset(20);
    const outDir = path.join(await tempDir('no-runner'), 'out');
    const req = { modelDir: exampleModel, dataset, outDir, ...split };
    const nobody = { python: config.pythonExecutable, runtimeDir: config.runtimeDir, runnerUser: 'mloop-no-such-user' };
    const noUser = await rejection(new PythonRuntime(nobody).train(req));
    expect(noUser.code).toBe('ToolchainMissing');
    expect(noUser.message).toContain('"mloop-no-such-user", but that user does not exist');

    const closed = await tempDir('closed-python'); // 0700, like /root
    await fs.symlink(config.pythonExecutable, path.join(closed, 'python'));
    const closedRuntime = new PythonRuntime({ python: path.join(closed, 'python'), runtimeDir: config.runtimeDir });
    const unreachable = await rejection(closedRuntime.train(req));
    expect(unreachable.code).toBe('ToolchainMissing');
    expect(unreachable.message).toContain('cannot be run by the unprivileged user');
  });

  it.runIf(asRoot)('sweeps up the sandboxes of a worker that died', async () => {
    const { uid, gid } = runnerIds();
    const home = execFileSync('getent', ['passwd', config.runnerUser], { encoding: 'utf8' }).split(':')[5] ?? '';
    const dead = spawnSync('true').pid; // a process that has exited
    const orphan = path.join(home, 'sandboxes', `${dead}-00000000-0000-4000-8000-000000000001`);
    await fs.mkdir(path.join(orphan, 'home'), { recursive: true });
    await fs.writeFile(path.join(orphan, 'home', 'left-behind'), 'x');
    for (const p of [orphan, path.join(orphan, 'home'), path.join(orphan, 'home', 'left-behind')]) {
      await fs.chown(p, uid, gid);
    }

    const outDir = path.join(await tempDir('sweep'), 'out');
    await runtime.train({ modelDir: exampleModel, dataset: await createExampleDataset(100), outDir, ...split });
    await expect(fs.stat(orphan)).rejects.toThrow();
  });

  it('serves through the same helper: allow-listed environment, runner account', async () => {
    process.env.MLOOP_TEST_DB_PASSWORD = 'hunter2';
    const outDir = path.join(await tempDir('serve-spy'), 'out');
    const dataset = await createExampleDataset(300);
    await runtime.train({ modelDir: exampleModel, dataset, outDir, ...split });
    const server = await startModelServer({
      python: config.pythonExecutable,
      runtimeDir: config.runtimeDir,
      modelDir: exampleModel,
      artifact: path.join(outDir, 'model.joblib'),
      modelName: 'pm',
      modelVersion: '1',
    });
    try {
      const environ = (await fs.readFile(`/proc/${server.pid}/environ`, 'utf8')).split('\0').filter(Boolean);
      expect(environ.map((kv) => kv.split('=')[0] ?? '').filter((k) => !allowedEnv.test(k))).toEqual([]);
      expect(environ.join('\n')).not.toContain('hunter2');
      const uid = /^Uid:\s+(\d+)/m.exec(await fs.readFile(`/proc/${server.pid}/status`, 'utf8'))?.[1];
      expect(Number(uid)).toBe(asRoot ? runnerIds().uid : process.getuid?.());
    } finally {
      await server.stop();
    }
  });
});
