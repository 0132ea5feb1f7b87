import net from 'node:net';
/**
 * HAProxy's runtime API (the stats socket at admin level) and its master CLI, both over unix
 * sockets: one command per connection, the answer is everything until HAProxy closes it.
 */
export function haproxyCommand(socketPath: string, command: string, timeoutMs = 5000): Promise<string> {
  // One line, one command: a newline or ';' would smuggle in a second one.
  if (/[\n\r;]/.test(command)) throw new Error(`refusing HAProxy command with a separator: ${JSON.stringify(command)}`);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.createConnection(socketPath);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.end(`${command}\n`));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'the proxy is not running' : err.message;
      reject(new Error(`HAProxy ${socketPath} "${command.split(' ').slice(0, 3).join(' ')}": ${why}`));
    });
  });
}

/** A server as HAProxy's statistics show it. */
export interface ServerStat {
  name: string;
  /** `UP`, `DOWN`, `MAINT`, `DRAIN`, `no check`, or a transition such as `UP 1/2`. */
  status: string;
  address: string;
  /** The last health check: `L7OK`, `L4CON`, `L7STS`, ... (empty before the first). */
  checkStatus: string;
  /** The HTTP status of the last health check, when it got one. */
  checkCode?: number;
  /** Sessions in progress and requests queued for this server. */
  sessions: number;
  queued: number;
}

/** The worker processes that HAProxy's master supervises, and how often it reloaded. */
export interface ProcessList {
  reloads: number;
  failedReloads: number;
  /** Workers of the current configuration. */
  current: number[];
  /** Workers of earlier configurations still finishing their requests. */
  old: number[];
}

/** Health checks every second (every 250 ms while a server changes state); one pass is enough. */
export const serverCheckOptions = 'check inter 1s fastinter 250ms rise 1 fall 2';

export class HaproxyApi {
  constructor(
    readonly adminSocket: string,
    readonly masterSocket: string,
  ) {}

  run(command: string): Promise<string> {
    return haproxyCommand(this.adminSocket, command);
  }

  /** Runs a command whose only successful answer is `expected` (often nothing at all). */
  private async expect(command: string, expected: string): Promise<void> {
    const answer = (await this.run(command)).trim();
    if (answer !== expected) throw new Error(`HAProxy refused "${command}": ${answer || '(no answer)'}`);
  }

  /** The servers of a backend; undefined when the running configuration has no such backend. */
  async servers(backend: string): Promise<ServerStat[] | undefined> {
    if (!(await this.hasBackend(backend))) return undefined;
    const answer = await this.run(`show stat ${backend} 4 -1`);
    const [first, ...rows] = answer.split('\n').filter((l) => l.trim() !== '');
    const header = first?.replace(/^# /, '').split(',') ?? [];
    if (!header.includes('svname')) {
      throw new Error(`unexpected answer to "show stat ${backend}": ${answer.slice(0, 200)}`);
    }
    const col = (row: string[], name: string): string => row[header.indexOf(name)] ?? '';
    return rows
      .map((line) => line.split(','))
      .filter((row) => col(row, 'pxname') === backend)
      .map((row) => ({
        name: col(row, 'svname'),
        status: col(row, 'status'),
        address: col(row, 'addr'),
        checkStatus: col(row, 'check_status').replace(/^\* ?/, ''),
        checkCode: col(row, 'check_code') === '' ? undefined : Number(col(row, 'check_code')),
        sessions: Number(col(row, 'scur') || 0),
        queued: Number(col(row, 'qcur') || 0),
      }));
  }

  async hasBackend(backend: string): Promise<boolean> {
    const answer = await this.run('show backend');
    return answer.split('\n').some((l) => l.trim() === backend);
  }

  /**
   * Adds a server with its health checks running. HAProxy creates it in maintenance (no traffic),
   * where checks keep running; the `disabled` keyword would pause them.
   */
  async addServer(backend: string, server: string, host: string, port: number): Promise<void> {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    // Dynamic servers take no default-server settings: every option is spelled out.
    await this.expect(`add server ${backend}/${server} ${address} ${serverCheckOptions}`, 'New server registered.');
    await this.expect(`enable health ${backend}/${server}`, '');
  }

  setState(backend: string, server: string, state: 'ready' | 'drain' | 'maint'): Promise<void> {
    return this.expect(`set server ${backend}/${server} state ${state}`, '');
  }

  /** Closes the connections still open to a server (after a drain that timed out). */
  shutdownSessions(backend: string, server: string): Promise<void> {
    return this.expect(`shutdown sessions server ${backend}/${server}`, '');
  }

  /** Removes a server in maintenance; false while it still has connections (retry after they closed). */
  async deleteServer(backend: string, server: string): Promise<boolean> {
    const answer = (await this.run(`del server ${backend}/${server}`)).trim();
    if (answer === 'Server deleted.') return true;
    if (/connections|queue/i.test(answer)) return false;
    throw new Error(`HAProxy refused "del server ${backend}/${server}": ${answer || '(no answer)'}`);
  }

  async processes(): Promise<ProcessList> {
    const answer = await haproxyCommand(this.masterSocket, 'show proc');
    const master = /^\s*\d+\s+master\s+(\d+)\s+\[failed:\s*(\d+)\]/m.exec(answer);
    if (!master) throw new Error(`unexpected answer of the HAProxy master to "show proc": ${answer.slice(0, 200)}`);
    const list: ProcessList = { reloads: Number(master[1]), failedReloads: Number(master[2]), current: [], old: [] };
    let section = '';
    for (const line of answer.split('\n')) {
      if (line.startsWith('#')) {
        section = line;
        continue;
      }
      const worker = /^\s*(\d+)\s+worker\s+(\d+)/.exec(line);
      if (!worker || !section.includes('workers')) continue;
      (section.includes('old') || Number(worker[2]) > 0 ? list.old : list.current).push(Number(worker[1]));
    }
    return list;
  }

  /** Asks the master to reload its configuration files; the new worker takes over the listeners. */
  async reload(): Promise<void> {
    await haproxyCommand(this.masterSocket, 'reload');
  }
}
