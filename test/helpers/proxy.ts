import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../core/deploy/ports';
import { HaproxyProxy } from '../../core/deploy/proxy';
import { tempDir } from './stack';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

export interface TestProxy {
  proxy: HaproxyProxy;
  dataDir: string;
  port: number;
  /** `dev up`/`dev down` of the proxy alone, through scripts/lib/proxy.sh. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it and removes its data directory. */
  destroy(): Promise<void>;
}

/** A private HAProxy started by the service manager's own script, in a temporary data directory. */
export async function startTestProxy(name: string): Promise<TestProxy> {
  const dataDir = await tempDir(`proxy-${name}`);
  const port = await freePort();
  const env = { ...process.env, MLOOP_DATA: dataDir, MLOOP_PROXY_PORT: String(port) };
  const sh = async (fn: string): Promise<void> => {
    const script = `source scripts/lib/common.sh && source scripts/lib/proxy.sh && ${fn}`;
    await run('bash', ['-c', script], { cwd: root, env });
  };
  const proxy = new HaproxyProxy({
    dir: path.join(dataDir, 'proxy'),
    baseConfig: path.join(root, 'provision/haproxy/haproxy.cfg'),
    proxyPort: port,
  });
  const handle: TestProxy = {
    proxy,
    dataDir,
    port,
    start: () => sh('proxy_start'),
    stop: () => sh('proxy_stop'),
    async destroy() {
      await handle.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}
