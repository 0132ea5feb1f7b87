import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../core/config';
import { renderConfigReference } from '../../../core/config/reference';
import { ConfigSchema, settingNames } from '../../../core/config/schema';
import { taskQueues } from '../../../workflows/definitions';

const problemsOf = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => p.message);
    throw err;
  }
  throw new Error('the configuration was accepted');
};

const configFile = (text: string, ext = 'yaml'): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mloop-config-'));
  const file = path.join(dir, `mloop.${ext}`);
  fs.writeFileSync(file, text);
  return file;
};

describe('configuration from the environment and MLOOP_CONFIG', () => {
  it('names the variable and the bad value', () => {
    expect(problemsOf({ MLOOP_API_PORT: '80a' })).toEqual(['MLOOP_API_PORT: expected a port 1–65535, got "80a"']);
  });

  it.each([
    ['0', 'a port 1–65535'],
    ['65536', 'a port 1–65535'],
    ['-1', 'a port 1–65535'],
    ['8080.5', 'a port 1–65535'],
    ['1e3', 'a port 1–65535'],
    ['0x50', 'a port 1–65535'],
    ['99999999999999999999', 'a port 1–65535'],
  ])('refuses MLOOP_API_PORT=%j', (value, expected) => {
    expect(problemsOf({ MLOOP_API_PORT: value })).toEqual([`MLOOP_API_PORT: expected ${expected}, got "${value}"`]);
  });

  it('takes edge ports, spaces around a value, and 0 where a free port is meant', () => {
    expect(loadConfig({ MLOOP_API_PORT: '1' }).apiPort).toBe(1);
    expect(loadConfig({ MLOOP_API_PORT: ' 65535 ' }).apiPort).toBe(65535);
    expect(loadConfig({ MLOOP_API_PORT: '08080' }).apiPort).toBe(8080);
    expect(loadConfig({ MLOOP_WORKER_METRICS_PORT: '0' }).worker.metricsPort).toBe(0);
  });

  it('names every bad variable at once', () => {
    const problems = problemsOf({
      MLOOP_API_PORT: 'x',
      KAFKA_BROKERS: '127.0.0.1:9092,broker-without-port',
      MLOOP_WORKER_ROLES: 'control,gpu',
      MLOOP_READY_TIMEOUT_MS: '10',
      TEMPORAL_UI_URL: 'javascript:alert(1)',
    });
    expect(problems).toEqual([
      'TEMPORAL_UI_URL: expected an http:// or https:// URL, got "javascript:alert(1)"',
      'KAFKA_BROKERS: "broker-without-port" is not host:port',
      'MLOOP_API_PORT: expected a port 1–65535, got "x"',
      'MLOOP_READY_TIMEOUT_MS: expected a whole number of milliseconds 50–60000, got "10"',
      'MLOOP_WORKER_ROLES: "gpu" is not one of control, train, stream',
    ]);
  });

  it('treats an empty variable as unset, and refuses a list with no items', () => {
    expect(loadConfig({ MLOOP_API_PORT: '' }).apiPort).toBe(8080);
    expect(loadConfig({ MLOOP_API_PORT: '   ' }).apiPort).toBe(8080);
    expect(problemsOf({ KAFKA_BROKERS: ' , ' })).toEqual([
      'KAFKA_BROKERS: expected host:port pairs, ","-separated, got " , "',
    ]);
  });

  it('never repeats a secret', () => {
    const problems = problemsOf({ POSTGRES_URL: 'mysql://admin:hunter2@db/x' });
    expect(problems).toEqual(['POSTGRES_URL: expected a postgres:// URL, got (the value is secret and not shown)']);
    expect(problems.join('')).not.toContain('hunter2');
  });

  it('derives defaults from other settings', () => {
    const c = loadConfig({ TEMPORAL_PORT: '27233', KAFKA_PORT: '29092', MLOOP_API_PORT: '8181', POSTGRES_PORT: '1' });
    expect(c.temporalAddress).toBe('127.0.0.1:27233');
    expect(c.kafkaBrokers).toEqual(['127.0.0.1:29092']);
    expect(c.apiUrl).toBe('http://127.0.0.1:8181');
    expect(c.postgresUrl).toBe('postgres://mloop@127.0.0.1:1/mloop');
    expect(c.worker).toEqual({
      roles: ['control', 'train', 'stream'],
      taskQueues: {},
      metricsHost: '127.0.0.1',
      metricsPort: 9464,
      sdkMetricsPort: 0,
      streamConcurrency: 64,
      healthSilentAfterMs: 90_000,
    });
  });

  it('reads a YAML or JSON file, and the environment wins over it', () => {
    const yaml = configFile('MLOOP_API_PORT: 8181\nKAFKA_BROKERS: [a:1, "b:2"]\nMLOOP_WORKER_ROLES: train\n');
    const c = loadConfig({ MLOOP_CONFIG: yaml, MLOOP_WORKER_ROLES: 'control,control' });
    expect(c.apiPort).toBe(8181);
    expect(c.kafkaBrokers).toEqual(['a:1', 'b:2']);
    expect(c.worker.roles).toEqual(['control']);
    const json = configFile('{"MLOOP_API_PORT": "9191", "KAFKA_BROKERS": "x:1,y:2"}', 'json');
    expect(loadConfig({ MLOOP_CONFIG: json })).toMatchObject({ apiPort: 9191, kafkaBrokers: ['x:1', 'y:2'] });
    expect(loadConfig({ MLOOP_CONFIG: json, MLOOP_API_PORT: '7000' }).apiPort).toBe(7000);
  });

  it('names the file with a bad value in it, and refuses names that are no setting', () => {
    const file = configFile('MLOOP_API_PORT: 80a\nMLOOP_APIPORT: 8080\nMLOOP_ALLOWED_ROOTS: [/a, rel]\n');
    expect(problemsOf({ MLOOP_CONFIG: file })).toEqual([
      `MLOOP_APIPORT (in ${file}): not a setting of mloop (see docs/CONFIGURATION.md)`,
      `MLOOP_ALLOWED_ROOTS (in ${file}): "rel" is not an absolute path`,
      `MLOOP_API_PORT (in ${file}): expected a port 1–65535, got "80a"`,
    ]);
    // The environment's good value replaces the file's bad one.
    expect(problemsOf({ MLOOP_CONFIG: file, MLOOP_API_PORT: '1', MLOOP_ALLOWED_ROOTS: '/b' })).toHaveLength(1);
  });

  it('says why a file cannot be used', () => {
    const missing = path.join(os.tmpdir(), 'mloop-no-such-config.yaml');
    expect(problemsOf({ MLOOP_CONFIG: missing })).toEqual([`MLOOP_CONFIG: cannot read ${missing} (ENOENT)`]);
    const list = configFile('- MLOOP_API_PORT\n');
    expect(problemsOf({ MLOOP_CONFIG: list })).toEqual([
      `MLOOP_CONFIG: ${list} must hold a mapping of setting names to values`,
    ]);
    const broken = configFile('MLOOP_API_PORT: [1\n');
    expect(problemsOf({ MLOOP_CONFIG: broken })[0]).toMatch(
      new RegExp(`^MLOOP_CONFIG: ${broken} is not valid YAML or JSON: `),
    );
    expect(loadConfig({ MLOOP_CONFIG: configFile('') }).apiPort).toBe(8080);
    const deep = configFile(`MLOOP_API_PORT: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`);
    expect(problemsOf({ MLOOP_CONFIG: deep })).toEqual([
      `MLOOP_CONFIG: ${deep}: line 1 nests more than 64 levels deep (brackets, indentation and indicators)`,
    ]);
  });

  it('documents every setting, with the task queues the workflows use', () => {
    for (const name of settingNames) {
      const s = ConfigSchema.properties[name] as unknown as { description?: string; expected?: string };
      expect(s.description, name).toMatch(/\S/);
      expect(s.expected, name).toMatch(/\S/);
    }
    for (const [role, queue] of Object.entries(taskQueues)) {
      const key = `MLOOP_TASK_QUEUE_${role.toUpperCase()}` as keyof typeof ConfigSchema.properties;
      expect(ConfigSchema.properties[key].default).toBe(queue);
    }
  });

  it('keeps docs/CONFIGURATION.md as the schema generates it (npm run docs:config)', () => {
    const doc = fs.readFileSync(path.resolve(import.meta.dirname, '../../../docs/CONFIGURATION.md'), 'utf8');
    expect(doc, 'docs/CONFIGURATION.md is out of date: run npm run docs:config').toBe(renderConfigReference());
    for (const name of settingNames) expect(doc).toContain(`| \`${name}\` |`);
  });
});
