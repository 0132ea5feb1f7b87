import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configErrorExitCode } from '../../../core/config';
import { runToExit } from '../../helpers/api-process';

describe('a bad configuration value stops each process at start, naming the variable', () => {
  const dirs: string[] = [];
  const tempData = async (): Promise<string> => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mloop-bad-config-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
  });

  it.each([
    ['api/server.ts', { MLOOP_API_PORT: '80a' }, 'mloop api', 'MLOOP_API_PORT: expected a port 1–65535, got "80a"'],
    [
      'workers/main.ts',
      { MLOOP_WORKER_ROLES: 'control,gpu' },
      'mloop worker',
      'MLOOP_WORKER_ROLES: "gpu" is not one of control, train, stream',
    ],
    [
      'workers/main.ts',
      { TEMPORAL_ADDRESS: 'localhost' },
      'mloop worker',
      'TEMPORAL_ADDRESS: expected host:port, got "localhost"',
    ],
    [
      'cli/main.ts',
      { MLOOP_API_URL: 'localhost:8080' },
      'mloop',
      'MLOOP_API_URL: expected an http:// or https:// URL, got "localhost:8080"',
    ],
  ])('%s with %j exits at once', async (entry, env, name, message) => {
    const data = await tempData();
    const { code, stdout, stderr } = await runToExit(
      entry,
      { MLOOP_DATA: data, ...env },
      entry.startsWith('cli') ? ['models'] : [],
    );
    expect(code, stderr).toBe(configErrorExitCode);
    expect(stderr).toBe(`${name}: invalid configuration\n  ${message}\n`);
    expect(stdout).toBe('');
    // Nothing started: the API wrote no token file, the worker made no registry.
    expect(await fs.readdir(data)).toEqual([]);
  });

  it('names a bad value of the configuration file and the file', async () => {
    const data = await tempData();
    const file = path.join(data, '..', `${path.basename(data)}.yaml`);
    await fs.writeFile(file, 'KAFKA_BROKERS: ["127.0.0.1:9092", "kafka"]\n');
    try {
      const { code, stderr } = await runToExit('api/server.ts', { MLOOP_DATA: data, MLOOP_CONFIG: file });
      expect(code, stderr).toBe(configErrorExitCode);
      expect(stderr).toContain(`  KAFKA_BROKERS (in ${file}): "kafka" is not host:port\n`);
    } finally {
      await fs.rm(file, { force: true });
    }
  });
});
