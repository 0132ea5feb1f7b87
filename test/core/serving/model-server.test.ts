import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MloopError } from '../../../core/errors';
import { startModelServer, type ModelServerOptions } from '../../../core/serving/model-server';
import { tempDir } from '../../helpers/stack';
import { until } from '../../helpers/until';

/**
 * Process control of the model server with small shell scripts in the place of Python, for the
 * cases a real server does not produce on demand (ignoring SIGTERM, stray children, silence).
 * model-server.int.test.ts runs the real one.
 */

const runningIn = (marker: string): string => {
  try {
    return execFileSync('pgrep', ['-af', marker], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
};

/** A unique `sleep` duration, so pgrep finds only this test's processes. */
const uniqueSleep = (): string => `sleep 300.${randomInt(1e6, 1e7)}`;

async function fakePython(script: string): Promise<{ python: string; dir: string }> {
  const dir = await tempDir('fake-python');
  // Where the runner account (when the worker is root) may read and run it.
  await fs.chmod(dir, 0o755);
  const python = path.join(dir, 'python');
  await fs.writeFile(python, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return { python, dir };
}

const options = (python: string, dir: string, extra: Partial<ModelServerOptions> = {}): ModelServerOptions => ({
  python,
  runtimeDir: '/runtime/dir',
  modelDir: dir,
  artifact: path.join(dir, 'model.joblib'),
  modelName: 'pm',
  modelVersion: '7',
  ...extra,
});

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

describe('model server process (scripted)', () => {
  it('passes the serve command line, reads the ready line, and stops the whole process group', async () => {
    const child = uniqueSleep();
    const { python, dir } = await fakePython(`
echo "args: $@" >&2; echo "pythonpath: $PYTHONPATH" >&2
echo "loading the artifact" >&2
(trap '' TERM; exec ${child}) &
echo 'not json'
echo '{"event":"ready","host":"127.0.0.1","port":45678,"model":"pm","version":"7"}'
exec ${uniqueSleep()}`);
    const stderr: string[] = [];
    const server = await startModelServer(options(python, dir, { onStderr: (line) => stderr.push(line) }));
    expect(server).toMatchObject({ url: 'http://127.0.0.1:45678', host: '127.0.0.1', port: 45678 });
    expect(server.pid).toBeGreaterThan(0);
    await until('the script to report its arguments', async () => (stderr.length >= 2 ? true : undefined), 5_000);
    expect(stderr).toContain(
      `args: -m mloop_runtime serve --model-dir ${dir} --artifact ${dir}/model.joblib ` +
        `--model-name pm --model-version 7 --host 127.0.0.1 --port 0`,
    );
    expect(stderr).toContain('pythonpath: /runtime/dir');
    expect(runningIn(child)).not.toBe('');
    await Promise.all([server.stop(), server.stop()]);
    // The child ignored SIGTERM; the group's SIGKILL after the server exited took it too.
    expect(runningIn(child)).toBe('');
  });

  it('kills a server that ignores SIGTERM once the grace period is over', async () => {
    const marker = uniqueSleep();
    const { python, dir } = await fakePython(`trap '' TERM
echo '{"event":"ready","host":"127.0.0.1","port":1234}'
exec ${marker}`);
    const server = await startModelServer(options(python, dir, { stopTimeoutMs: 300 }));
    const started = Date.now();
    await server.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(runningIn(marker)).toBe('');
  });

  it('rejects with the runtime’s error and stderr tail when the server exits before it is ready', async () => {
    const { python, dir } = await fakePython(
      `echo 'Traceback: mloop.yaml is broken' >&2
echo '{"event":"error","kind":"InvalidManifest","message":"mloop.yaml: task: must be classification or regression",` +
        `"traceback_tail":null}'
exit 2`,
    );
    const err = await rejection(startModelServer(options(python, dir)));
    expect(err).toBeInstanceOf(MloopError);
    expect((err as MloopError).code).toBe('InvalidManifest');
    expect(err.message).toBe('mloop.yaml: task: must be classification or regression\nTraceback: mloop.yaml is broken');

    const crash = await fakePython(`echo 'Segmentation fault' >&2; exit 139`);
    const crashed = await rejection(startModelServer(options(crash.python, crash.dir)));
    expect(crashed).not.toBeInstanceOf(MloopError);
    expect(crashed.message).toBe('the model server exited with code 139 before it was ready\nSegmentation fault');
  });

  it('gives up on a server that never reports ready, and leaves nothing running', async () => {
    const marker = uniqueSleep();
    const { python, dir } = await fakePython(`echo 'still importing' >&2; exec ${marker}`);
    const err = await rejection(startModelServer(options(python, dir, { readyTimeoutMs: 500 })));
    expect(err.message).toBe('the model server did not report ready within 0.5 s:\nstill importing');
    expect(runningIn(marker)).toBe('');
  });

  it('stops starting when cancelled', async () => {
    const marker = uniqueSleep();
    const { python, dir } = await fakePython(`exec ${marker}`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    expect((await rejection(startModelServer(options(python, dir, { signal: controller.signal })))).message).toContain(
      'cancelled',
    );
    expect(runningIn(marker)).toBe('');
  });

  it('reports a Python that cannot be run as ToolchainMissing', async () => {
    const dir = await tempDir('no-python');
    const err = await rejection(startModelServer(options(path.join(dir, 'python'), dir)));
    expect((err as MloopError).code).toBe('ToolchainMissing');
  });
});
