import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { invalidInput, MloopError } from '../errors';
import { withFileLock } from './file-lock';
import { HaproxyApi, serverCheckOptions, type ServerStat } from './haproxy-api';
import { checkDeploymentId, endpointName, type DeploymentId } from './names';
import { freePort } from './ports';

const run = promisify(execFile);

/** A deployment's stable endpoint: one port on the proxy, whatever version serves behind it. */
export interface Endpoint extends DeploymentId {
  name: string;
  port: number;
  url: string;
}

export type ServerState = 'ready' | 'drain' | 'maint';

export interface ProxyServer {
  name: string;
  host: string;
  port: number;
  state: ServerState;
  /** The last health check passed (checks run in maintenance too). */
  healthy: boolean;
  /** HAProxy's status (`UP`, `DOWN`, `MAINT`, `DRAIN`, ...) and last check (`L7OK`, `L4CON`, ...). */
  status: string;
  check: string;
  sessions: number;
}

export interface ServerAddress {
  name: string;
  host: string;
  port: number;
}

interface ServerRecord extends ServerAddress {
  state: ServerState;
}

interface EndpointRecord extends DeploymentId {
  port: number;
  servers: ServerRecord[];
}

interface ProxyStateFile {
  endpoints: EndpointRecord[];
}

export interface HaproxyProxyOptions {
  /** Where the runtime sockets, endpoints.cfg and endpoints.json live ($MLOOP_DATA/proxy). */
  dir: string;
  /** provision/haproxy/haproxy.cfg: the fixed part, loaded before endpoints.cfg. */
  baseConfig: string;
  /** The proxy's own port (MLOOP_PROXY_PORT), needed to check a configuration before a reload. */
  proxyPort: number;
  haproxyBin?: string;
  /** How often to look at servers while waiting for a check or a drain (200 ms). */
  pollMs?: number;
}

export interface WaitOptions {
  timeoutMs?: number;
}

const serverNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function checkServerName(name: string): void {
  if (!serverNamePattern.test(name)) {
    throw invalidInput('server', `${JSON.stringify(name)} is not a server name (letters, digits, "_", ".", ":", "-")`);
  }
}

const noEndpoint = (id: DeploymentId): MloopError => {
  const name = endpointName(id);
  return new MloopError('NotFound', `deployment ${name} has no endpoint on the proxy`, { endpoint: name });
};

function stateOf(stat: ServerStat): ServerState {
  if (stat.status.startsWith('MAINT')) return 'maint';
  if (stat.status.startsWith('DRAIN')) return 'drain';
  return 'ready';
}

function splitAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  return m ? { host: m[1] ?? '', port: Number(m[2]) } : { host: address, port: 0 };
}

/** The part of endpoints.cfg for one deployment. Exported for tests of the rendering only. */
export function renderEndpoint(e: EndpointRecord): string {
  const name = endpointName(e);
  const lines = [
    `frontend ep:${name}`,
    `  bind 127.0.0.1:${e.port}`,
    `  default_backend ${name}`,
    '',
    `backend ${name}`,
    '  balance roundrobin',
    `  option httpchk GET /v2/models/${e.model}/ready`,
    '  http-check expect status 200',
    // Which model server answered, for operators and tests; the V2 body names the version too.
    '  http-response set-header X-Mloop-Server %[srv_name]',
    ...e.servers.map((s) => {
      const address = s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
      // A server that was draining when the file was written gets no traffic after a restart.
      return `  server ${s.name} ${address} ${serverCheckOptions}${s.state === 'ready' ? '' : ' disabled'}`;
    }),
  ];
  return lines.join('\n') + '\n';
}

/**
 * Deployments' stable endpoints on HAProxy. Each deployment (model, environment) gets a frontend
 * on a port of its own and a backend; its model servers are added, enabled, drained and removed
 * through the runtime API, so a version switch never reloads HAProxy. Only creating or retiring
 * an endpoint rewrites endpoints.cfg and reloads seamlessly (master-worker: the new worker takes
 * over the listening sockets, the old one finishes its requests). Every change is also written to
 * endpoints.cfg, so a restarted proxy comes back with the same endpoints and servers.
 *
 * Changes are serialised by a lock file, so several workers can share one proxy.
 */
export class HaproxyProxy {
  readonly api: HaproxyApi;
  private readonly stateFile: string;
  private readonly configFile: string;
  private readonly lockFile: string;

  constructor(private readonly opts: HaproxyProxyOptions) {
    this.api = new HaproxyApi(path.join(opts.dir, 'admin.sock'), path.join(opts.dir, 'master.sock'));
    this.stateFile = path.join(opts.dir, 'endpoints.json');
    this.configFile = path.join(opts.dir, 'endpoints.cfg');
    this.lockFile = path.join(opts.dir, 'endpoints.lock');
  }

  /** The deployment's endpoint, created (with a reload) when it does not exist yet. */
  async ensureEndpoint(id: DeploymentId, opts: { port?: number } = {}): Promise<Endpoint> {
    checkDeploymentId(id);
    if (opts.port !== undefined && !(Number.isInteger(opts.port) && opts.port >= 1 && opts.port <= 65535)) {
      throw invalidInput('port', `${opts.port} is not a TCP port`);
    }
    return this.locked(async (state) => {
      const existing = state.endpoints.find((e) => endpointName(e) === endpointName(id));
      if (existing) {
        if (opts.port !== undefined && opts.port !== existing.port) {
          const message = `deployment ${endpointName(id)} already has its endpoint on port ${existing.port}`;
          throw new MloopError('Conflict', message, { port: existing.port });
        }
        return this.endpoint(existing);
      }
      const taken = new Set([this.opts.proxyPort, ...state.endpoints.map((e) => e.port)]);
      const port = opts.port ?? (await freePort());
      if (taken.has(port)) throw new MloopError('Conflict', `port ${port} is already used by the proxy`, { port });
      const record: EndpointRecord = { model: id.model, environment: id.environment, port, servers: [] };
      const next = { endpoints: [...state.endpoints, record] };
      await this.apply(state, next, { reload: true, expectBackend: endpointName(id) });
      return this.endpoint(record);
    });
  }

  async getEndpoint(id: DeploymentId): Promise<Endpoint | undefined> {
    checkDeploymentId(id);
    const record = (await this.readState()).endpoints.find((e) => endpointName(e) === endpointName(id));
    return record ? this.endpoint(record) : undefined;
  }

  async listEndpoints(): Promise<Endpoint[]> {
    return (await this.readState()).endpoints.map((e) => this.endpoint(e));
  }

  /** Retires the endpoint (a reload); its servers go with it. Nothing happens when there is none. */
  async removeEndpoint(id: DeploymentId): Promise<void> {
    checkDeploymentId(id);
    await this.locked(async (state) => {
      if (!state.endpoints.some((e) => endpointName(e) === endpointName(id))) return;
      const next = { endpoints: state.endpoints.filter((e) => endpointName(e) !== endpointName(id)) };
      await this.apply(state, next, { reload: true });
    });
  }

  /** The servers behind the endpoint as HAProxy sees them now. */
  async servers(id: DeploymentId): Promise<ProxyServer[]> {
    const name = endpointName(id);
    const stats = await this.api.servers(name);
    if (!stats) throw noEndpoint(id);
    return stats.map((s) => ({
      name: s.name,
      ...splitAddress(s.address),
      state: stateOf(s),
      healthy: /OK$/.test(s.checkStatus),
      status: s.status,
      check: s.checkCode !== undefined ? `${s.checkStatus} ${s.checkCode}` : s.checkStatus,
      sessions: s.sessions + s.queued,
    }));
  }

  /**
   * Puts a model server behind the endpoint, in maintenance (no traffic) with its health checks
   * running. Adding it again is a no-op; a new address for the same name replaces the old one.
   */
  async addServer(id: DeploymentId, server: ServerAddress): Promise<void> {
    checkServerName(server.name);
    const backend = endpointName(id);
    await this.locked(async (state) => {
      this.requireEndpoint(state, id);
      const current = (await this.servers(id)).find((s) => s.name === server.name);
      if (!current) await this.api.addServer(backend, server.name, server.host, server.port);
      else if (current.host !== server.host || current.port !== server.port) {
        await this.api.run(`set server ${backend}/${server.name} addr ${server.host} port ${server.port}`);
      }
      await this.persist(state);
    });
  }

  /** Waits until the server's health check passes; DeploymentFailed with the last check when it does not. */
  async waitForHealthy(id: DeploymentId, serverName: string, opts: WaitOptions = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    let last: ProxyServer | undefined;
    for (;;) {
      last = (await this.servers(id)).find((s) => s.name === serverName);
      if (!last) throw new MloopError('NotFound', `deployment ${endpointName(id)} has no server ${serverName}`);
      if (last.healthy) return;
      if (Date.now() > deadline) break;
      await sleep(this.opts.pollMs ?? 200);
    }
    throw new MloopError(
      'DeploymentFailed',
      `${serverName} did not pass the proxy's health check (GET /v2/models/${id.model}/ready) ` +
        `within ${timeoutMs / 1000} s: last check ${last.check || 'not run yet'}`,
      { server: serverName, check: last.check },
    );
  }

  /** Sets a server's state: `ready` takes traffic, `drain` finishes what it has, `maint` takes none. */
  async setServerState(id: DeploymentId, serverName: string, target: ServerState): Promise<void> {
    await this.locked(async (state) => {
      this.requireEndpoint(state, id);
      await this.api.setState(endpointName(id), serverName, target);
      await this.persist(state);
    });
  }

  /**
   * Waits until a draining (or disabled) server has no session left. After `timeoutMs` the
   * remaining sessions are closed; the answer says how many were.
   */
  async waitForDrain(id: DeploymentId, serverName: string, opts: WaitOptions = {}): Promise<{ forced: number }> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      const server = (await this.servers(id)).find((s) => s.name === serverName);
      if (!server || server.sessions === 0) return { forced: 0 };
      if (Date.now() > deadline) {
        await this.api.shutdownSessions(endpointName(id), serverName);
        return { forced: server.sessions };
      }
      await sleep(this.opts.pollMs ?? 200);
    }
  }

  /**
   * Blue/green: `serverName` (healthy) takes the traffic, every other server drains and goes to
   * maintenance. They stay behind the endpoint, so switching back is as quick; remove them with
   * `removeServer` once the new version has proved itself.
   */
  async switchTo(
    id: DeploymentId,
    serverName: string,
    opts: { drainTimeoutMs?: number } = {},
  ): Promise<{ drained: string[]; forced: number }> {
    const servers = await this.servers(id);
    const target = servers.find((s) => s.name === serverName);
    if (!target) throw new MloopError('NotFound', `deployment ${endpointName(id)} has no server ${serverName}`);
    if (!target.healthy) {
      const why = `its last health check is ${target.check || 'not run yet'}`;
      throw new MloopError('DeploymentFailed', `refusing to switch ${endpointName(id)} to ${serverName}: ${why}`);
    }
    await this.setServerState(id, serverName, 'ready');
    const others = servers.filter((s) => s.name !== serverName && s.state !== 'maint');
    for (const s of others) await this.setServerState(id, s.name, 'drain');
    let forced = 0;
    for (const s of others) {
      forced += (await this.waitForDrain(id, s.name, { timeoutMs: opts.drainTimeoutMs })).forced;
      await this.setServerState(id, s.name, 'maint');
    }
    return { drained: others.map((s) => s.name), forced };
  }

  /** Drains the server, then removes it from the endpoint. Nothing happens when it is not there. */
  async removeServer(id: DeploymentId, serverName: string, opts: { drainTimeoutMs?: number } = {}): Promise<void> {
    const backend = endpointName(id);
    const present = (await this.servers(id)).find((s) => s.name === serverName);
    if (!present) return;
    if (present.state === 'ready') await this.setServerState(id, serverName, 'drain');
    await this.waitForDrain(id, serverName, { timeoutMs: opts.drainTimeoutMs });
    await this.locked(async (state) => {
      if ((await this.servers(id)).some((s) => s.name === serverName)) {
        await this.api.setState(backend, serverName, 'maint');
        // Idle connections kept for reuse close within moments of the maintenance.
        const deadline = Date.now() + 10_000;
        while (!(await this.api.deleteServer(backend, serverName))) {
          if (Date.now() > deadline) {
            throw new Error(`HAProxy kept connections to ${backend}/${serverName} open for 10 s after its drain`);
          }
          await sleep(this.opts.pollMs ?? 200);
        }
      }
      await this.persist(state);
    });
  }

  private endpoint(e: EndpointRecord): Endpoint {
    const { model, environment, port } = e;
    return { model, environment, name: endpointName(e), port, url: `http://127.0.0.1:${port}` };
  }

  private requireEndpoint(state: ProxyStateFile, id: DeploymentId): EndpointRecord {
    checkDeploymentId(id);
    const record = state.endpoints.find((e) => endpointName(e) === endpointName(id));
    if (!record) throw noEndpoint(id);
    return record;
  }

  private async readState(): Promise<ProxyStateFile> {
    try {
      return JSON.parse(await fs.readFile(this.stateFile, 'utf8')) as ProxyStateFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { endpoints: [] };
      throw new Error(`cannot read the proxy's endpoints from ${this.stateFile}: ${(err as Error).message}`);
    }
  }

  /** Runs a change under the lock, on the state as HAProxy has it now. */
  private async locked<T>(fn: (state: ProxyStateFile) => Promise<T>): Promise<T> {
    await fs.mkdir(this.opts.dir, { recursive: true });
    return withFileLock(this.lockFile, async () => fn(await this.withLiveServers(await this.readState())));
  }

  /** The servers HAProxy runs now replace the recorded ones: the runtime API is the truth. */
  private async withLiveServers(state: ProxyStateFile): Promise<ProxyStateFile> {
    const endpoints: EndpointRecord[] = [];
    for (const e of state.endpoints) {
      const live = await this.api.servers(endpointName(e));
      const servers = live?.map((s) => ({ name: s.name, ...splitAddress(s.address), state: stateOf(s) }));
      endpoints.push(servers ? { ...e, servers } : e);
    }
    return { endpoints };
  }

  /** Writes the live servers to endpoints.cfg and endpoints.json (no reload). */
  private async persist(state: ProxyStateFile): Promise<void> {
    await this.apply(state, await this.withLiveServers(state), { reload: false });
  }

  private render(state: ProxyStateFile): string {
    const header = '# Written by mloop (core/deploy/proxy.ts) from endpoints.json; edits are overwritten.\n';
    return header + state.endpoints.map((e) => '\n' + renderEndpoint(e)).join('');
  }

  private async checkConfig(file: string): Promise<void> {
    const bin = this.opts.haproxyBin ?? '/usr/sbin/haproxy';
    const env = { ...process.env, MLOOP_PROXY_DIR: this.opts.dir, MLOOP_PROXY_PORT: String(this.opts.proxyPort) };
    try {
      await run(bin, ['-q', '-c', '-f', this.opts.baseConfig, '-f', file], { env });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      const output = (e.stderr || e.stdout || e.message).trim().slice(0, 1000);
      throw new Error(`HAProxy rejects the generated endpoints: ${output}`);
    }
  }

  private async writeFiles(state: ProxyStateFile): Promise<void> {
    const cfgTmp = `${this.configFile}.${process.pid}.tmp`;
    await fs.writeFile(cfgTmp, this.render(state));
    try {
      await this.checkConfig(cfgTmp);
    } catch (err) {
      await fs.rm(cfgTmp, { force: true });
      throw err;
    }
    const jsonTmp = `${this.stateFile}.${process.pid}.tmp`;
    await fs.writeFile(jsonTmp, JSON.stringify(state, null, 2) + '\n');
    await fs.rename(cfgTmp, this.configFile);
    await fs.rename(jsonTmp, this.stateFile);
  }

  /** Writes `next`; with `reload`, HAProxy loads it and `previous` comes back if it cannot. */
  private async apply(
    previous: ProxyStateFile,
    next: ProxyStateFile,
    opts: { reload: boolean; expectBackend?: string },
  ): Promise<void> {
    await this.writeFiles(next);
    if (!opts.reload) return;
    try {
      await this.reload(opts.expectBackend);
    } catch (err) {
      await this.writeFiles(previous);
      await this.reload().catch(() => undefined);
      throw err;
    }
  }

  private async reload(expectBackend?: string): Promise<void> {
    const before = await this.api.processes();
    await this.api.reload();
    const deadline = Date.now() + 30_000;
    for (;;) {
      await sleep(100);
      const now = await this.api.processes().catch(() => undefined); // the master re-executes itself
      if (now && now.failedReloads > before.failedReloads) {
        throw new Error(`HAProxy could not load the new endpoints (see the proxy's log); the previous ones stay`);
      }
      const fresh = now && now.current.length > 0 && !now.current.some((p) => before.current.includes(p));
      const loaded = now && now.reloads > before.reloads && fresh;
      if (loaded && (!expectBackend || (await this.api.hasBackend(expectBackend).catch(() => false)))) break;
      if (Date.now() > deadline) throw new Error('HAProxy did not finish reloading within 30 s');
    }
    // The old worker still routes its requests in flight by the old server states, which the
    // runtime API no longer reaches: let it finish before the next switch.
    while (Date.now() < deadline && (await this.api.processes()).old.length > 0) await sleep(100);
  }
}
