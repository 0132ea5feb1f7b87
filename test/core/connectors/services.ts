import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../../helpers/stack';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A private PostgreSQL or Mosquitto for one test file, run by the service manager's own shell
 * functions (scripts/lib/postgres.sh, mqtt.sh) in a temporary data directory on a free port.
 */
export interface Service {
  port: number;
  url: string;
  dataDir: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it and removes its data directory. */
  remove(): Promise<void>;
}

export async function service(kind: 'postgres' | 'mqtt'): Promise<Service> {
  const dataDir = await tempDir(kind);
  const port = await freePort();
  const env = {
    ...process.env,
    MLOOP_DATA: dataDir,
    [kind === 'postgres' ? 'POSTGRES_PORT' : 'MQTT_PORT']: String(port),
  };
  const call = async (fn: string): Promise<void> => {
    const libs = ['common', 'service-user', kind].map((l) => `source "${root}/scripts/lib/${l}.sh"`).join('; ');
    await run('bash', ['-c', `set -euo pipefail; ${libs}; ${fn}`], { env, cwd: root, timeout: 120_000 });
  };
  const url = kind === 'postgres' ? `postgres://mloop@127.0.0.1:${port}/mloop` : `mqtt://127.0.0.1:${port}`;
  const s: Service = {
    port,
    url,
    dataDir,
    start: () => call(`${kind}_start`),
    stop: () => call(`${kind}_stop`),
    async remove() {
      await s.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
  await s.start();
  return s;
}
