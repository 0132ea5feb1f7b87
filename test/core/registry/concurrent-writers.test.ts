import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../api/app';
import { Registry } from '../../../core/registry/registry';
import { newVersion } from '../../helpers/registry';
import { tempDir } from '../../helpers/stack';
import { as, testAuth } from '../../helpers/auth';

const root = path.resolve(import.meta.dirname, '../../..');
const tsx = path.join(root, 'node_modules/.bin/tsx');
const writer = path.join(import.meta.dirname, 'writer-process.ts');

interface Summary {
  name: string;
  failures: number;
  first: string | null;
}

/** Starts one writer process per name on the same file, releases them together, and collects their summaries. */
async function writeConcurrently(
  file: string,
  mode: 'register' | 'alias',
  names: string[],
  count: number,
): Promise<Summary[]> {
  const go = `${file}.go-${mode}`;
  const procs = names.map((name) => {
    const proc = spawn(tsx, [writer, file, go, mode, name, String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', () => out.includes('ready\n') && resolve());
      proc.once('exit', (code) => reject(new Error(`writer ${name} exited with ${code} before it was ready: ${err}`)));
    });
    const done = new Promise<Summary>((resolve, reject) => {
      proc.once('exit', (code) => {
        const last = out.trim().split('\n').at(-1) ?? '';
        if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as Summary);
        else reject(new Error(`writer ${name} exited with ${code}: ${err || out}`));
      });
    });
    return { ready, done };
  });
  await Promise.all(procs.map((p) => p.ready));
  await fs.writeFile(go, '');
  return Promise.all(procs.map((p) => p.done));
}

describe('registry with two writer processes on one SQLite file', () => {
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = await tempDir('registry-writers');
    file = path.join(dir, 'registry.db');
  });
  afterAll(async () => fs.rm(dir, { recursive: true, force: true }));

  it('opens a new file from two processes at once, then queues 400 registrations without a failure', async () => {
    const summaries = await writeConcurrently(file, 'register', ['a', 'b'], 200);
    console.log('registrations:', JSON.stringify(summaries));
    expect(summaries.map((s) => [s.name, s.failures, s.first])).toEqual([
      ['a', 0, null],
      ['b', 0, null],
    ]);
    const registry = await Registry.openSqlite(file);
    try {
      const versions = await registry.listVersions('pm');
      expect(versions.map((v) => v.version)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
      expect(new Set(versions.map((v) => v.workflowId)).size).toBe(400);
    } finally {
      await registry.close();
    }
  });

  it('queues 400 alias moves from two processes, each logged once', async () => {
    const summaries = await writeConcurrently(file, 'alias', ['a', 'b'], 200);
    console.log('alias moves:', JSON.stringify(summaries));
    expect(summaries.map((s) => [s.name, s.failures, s.first])).toEqual([
      ['a', 0, null],
      ['b', 0, null],
    ]);
    const registry = await Registry.openSqlite(file);
    try {
      const history = await registry.aliasHistory('pm');
      // Each move's previous version is the one before it in the history: none was lost or interleaved.
      for (let i = 1; i < history.length; i++) expect(history[i]?.previousVersion).toBe(history[i - 1]?.version);
      expect(history.length).toBeGreaterThan(0);
      expect(history.length).toBeLessThanOrEqual(400);
      await expect(registry.getAliases('pm')).resolves.toEqual({ champion: history.at(-1)?.version });
    } finally {
      await registry.close();
    }
  });
});

describe('registry write lock held past busy_timeout', () => {
  let dir: string;
  let registry: Registry;
  let holder: Database.Database;

  beforeAll(async () => {
    dir = await tempDir('registry-busy');
    const file = path.join(dir, 'registry.db');
    registry = await Registry.openSqlite(file, { busyTimeoutMs: 50 });
    await registry.registerVersion(newVersion('pm', 'first'));
    holder = new Database(file);
  });
  afterAll(async () => {
    holder.close();
    await registry.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('is Unavailable (retryable), and the write goes through once the lock is free', async () => {
    holder.exec('BEGIN IMMEDIATE');
    try {
      const err = await registry.registerVersion(newVersion('pm', 'blocked')).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'Unavailable', retryable: true });
      expect((err as Error).message).toMatch(/registry is busy/);
    } finally {
      holder.exec('ROLLBACK');
    }
    await expect(registry.registerVersion(newVersion('pm', 'blocked'))).resolves.toMatchObject({ version: 2 });
  });

  it('answers 503 at the API, never 500', async () => {
    const untouchable = new Proxy({}, { get: () => expect.fail('registry routes must not use Temporal') });
    const temporal = { workflow: untouchable, connection: untouchable } as unknown as Client;
    const app = await buildApp({
      temporal,
      registry,
      namespace: 'default',
      webUiUrl: 'http://127.0.0.1:8233',
      auth: testAuth,
    });
    holder.exec('BEGIN IMMEDIATE');
    try {
      const res = await app.inject({
        method: 'PUT',
        url: '/v1/models/pm/aliases/champion',
        headers: as('tester'),
        payload: { version: 1 },
      });
      expect(res.statusCode, res.body).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      // Like every 5xx answer, the message is a generic line; the log has the registry's own.
      expect(res.json()).toMatchObject({
        error: 'Unavailable',
        message: expect.stringMatching(/^the API is busy; try again shortly/),
      });
      holder.exec('ROLLBACK');
      const later = await app.inject({
        method: 'PUT',
        url: '/v1/models/pm/aliases/champion',
        headers: as('tester'),
        payload: { version: 1 },
      });
      expect(later.statusCode, later.body).toBe(200);
    } finally {
      if (holder.inTransaction) holder.exec('ROLLBACK');
      await app.close();
    }
  });
});
