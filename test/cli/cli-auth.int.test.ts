import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app';
import { loadTokens } from '../../core/auth/load';
import { loadConfig } from '../../core/config';
import { Registry } from '../../core/registry/registry';
import { config, connectClient, tempDir } from '../helpers/stack';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

describe('the CLI authenticates with the token the API wrote on its first start', () => {
  let dataDir: string;
  let app: FastifyInstance;
  let registry: Registry;
  let temporal: Awaited<ReturnType<typeof connectClient>>;
  let url: string;

  beforeAll(async () => {
    dataDir = await tempDir('cli-auth');
    const auth = loadConfig({ MLOOP_DATA: dataDir }).auth;
    const tokens = await loadTokens(auth);
    expect(tokens.created).toBe(true);
    temporal = await connectClient();
    registry = await Registry.openSqlite(path.join(dataDir, 'registry.db'));
    app = await buildApp({
      temporal: temporal.client,
      registry,
      namespace: config.temporalNamespace,
      webUiUrl: config.temporalUiUrl,
      auth: { tokens: tokens.verifier },
    });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await registry?.close();
    await temporal?.close();
  });

  const cli = async (args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> => {
    const childEnv = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      MLOOP_DATA: dataDir,
      MLOOP_API_URL: url,
      ...env,
    };
    try {
      const { stdout, stderr } = await run(path.join(root, 'bin', 'mloop'), args, { env: childEnv });
      return { code: 0, out: stdout + stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout + e.stderr };
    }
  };

  it('sends the token from $MLOOP_DATA/auth/cli-token', async () => {
    const res = await cli(['lifecycle', 'status', 'lifecycle/nope/none']);
    // Past authentication: the lifecycle does not exist.
    expect(res.out).toContain('GET /v1/lifecycles/nope/none → 404 NotFound');
    expect(res.code).toBe(3);
  });

  it('says where a token would come from when it has none, or which one was refused', async () => {
    const none = await cli(['lifecycle', 'status', 'lifecycle/nope/none'], {
      MLOOP_CLI_TOKEN_FILE: path.join(dataDir, 'missing'),
    });
    expect(none.out).toContain('→ 401 Unauthorized');
    expect(none.out).toContain('no token: set MLOOP_TOKEN');
    expect(none.code).toBe(4);
    const wrong = await cli(['lifecycle', 'status', 'lifecycle/nope/none'], {
      MLOOP_TOKEN: 'mloop_notarealtoken0000000000',
    });
    expect(wrong.out).toContain('the token from MLOOP_TOKEN was refused');
    expect(wrong.out).not.toContain('mloop_notarealtoken');
  });

  it('adds a token that the running API accepts without a restart', async () => {
    const added = await cli(['token', 'add', '--subject', 'ci-bot', '--role', 'viewer']);
    expect(added.code, added.out).toBe(0);
    const token = added.out.split('\n').find((l) => l.startsWith('mloop_'))!;
    expect(token).toMatch(/^mloop_[A-Za-z0-9_-]{43}$/);
    expect(await fs.readFile(path.join(dataDir, 'auth', 'tokens.json'), 'utf8')).not.toContain(token);
    await new Promise((r) => setTimeout(r, 1100));
    const res = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const write = await fetch(`${url}/v1/models/x/aliases/champion`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"version":1}',
    });
    expect(write.status).toBe(403);

    const bad = await cli(['token', 'add', '--subject', 'x', '--role', 'admin']);
    expect(bad.code).toBe(2);
    expect(bad.out).toContain(
      '--role must be given at least once, each one of viewer, operator, approver (got "admin")',
    );
  });
});
