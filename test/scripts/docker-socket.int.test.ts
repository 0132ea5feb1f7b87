import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/stack';

const root = path.resolve(import.meta.dirname, '../..');
const asRoot = process.getuid?.() === 0;

/** Runs a function of scripts/lib/docker.sh against a data directory of this test's own. */
const docker = (dataDir: string, fn: string): string =>
  execFileSync('bash', ['-c', `source scripts/lib/common.sh && source scripts/lib/docker.sh && ${fn}`], {
    cwd: root,
    env: { ...process.env, MLOOP_DATA: dataDir },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });

describe.runIf(asRoot)('the project dockerd (a private one, started by this test)', () => {
  let dataDir: string | undefined;
  afterAll(async () => {
    if (!dataDir) return;
    docker(dataDir, 'docker_stop');
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('listens on a socket only root can use (0600, root:root)', async () => {
    // Short: a unix socket path has at most 107 bytes.
    dataDir = await tempDir('dsock');
    docker(dataDir, 'docker_start');
    const socket = path.join(dataDir, 'docker', 'docker.sock');
    const st = await fs.stat(socket);
    console.log(`dockerd socket: mode ${(st.mode & 0o777).toString(8)}, owner ${st.uid}:${st.gid}`);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect([st.uid, st.gid]).toEqual([0, 0]);
    // And it answers root.
    expect(docker(dataDir, 'docker_ready && echo ready').trim()).toBe('ready');
  });
});
