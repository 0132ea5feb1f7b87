import { describe, expect, it } from 'vitest';
import { createSinkWriter, postgresUrl, runSource } from '../../../core/connectors/connectors';
import { sign } from '../../../core/connectors/webhook-sink';
import { createHmac } from 'node:crypto';
import type { KafkaPort } from '../../../core/kafka/adapter';
import { assertValidPipeline } from '../../../core/pipeline/validate';

const pipeline = assertValidPipeline({
  name: 'plant',
  topics: [{ name: 'in', partitions: 1 }, { name: 'out' }],
  sources: [{ name: 'api', kind: 'http', topic: 'in', fields: { n: 'integer' } }],
  transforms: [{ name: 'copy', kind: 'filter', input: 'in', output: 'out', where: 'n > 0' }],
  sinks: [
    { name: 'hook', kind: 'webhook', topic: 'out', url: 'http://127.0.0.1:1/x', secretEnv: 'PLANT_HOOK_SECRET' },
    { name: 'db', kind: 'postgres', topic: 'out', table: 'out_rows', key: ['n'] },
  ],
});

describe('connectors by spec', () => {
  it('needs the webhook secret from the variable the spec names', () => {
    expect(() => createSinkWriter(pipeline, 'hook', {})).toThrow(
      'the environment variable PLANT_HOOK_SECRET holding its HMAC key is not set',
    );
    expect(createSinkWriter(pipeline, 'hook', { PLANT_HOOK_SECRET: 's' }).write).toBeTypeOf('function');
    expect(() => createSinkWriter(pipeline, 'nope', {})).toThrow('pipeline plant has no sink nope');
  });

  it('finds the PostgreSQL server from the environment', () => {
    expect(postgresUrl({})).toBe('postgres://mloop@127.0.0.1:55432/mloop');
    expect(postgresUrl({ POSTGRES_PORT: '6000' })).toBe('postgres://mloop@127.0.0.1:6000/mloop');
    expect(postgresUrl({ POSTGRES_URL: 'postgres://u@db/x' })).toBe('postgres://u@db/x');
  });

  it('does not run an http source on its own', async () => {
    const run = runSource({ kafka: {} as KafkaPort, pipeline, source: 'api', signal: new AbortController().signal });
    await expect(run).rejects.toThrow('source api takes records over HTTP');
  });

  it('signs the exact body with HMAC-SHA256', () => {
    const body = '{"n": 1}';
    expect(sign('k', body)).toBe(`sha256=${createHmac('sha256', 'k').update(body).digest('hex')}`);
  });
});
