import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../core/config';

describe('authentication settings', () => {
  it('defaults to a token file in the data directory that the first start may create', () => {
    const c = loadConfig({ MLOOP_DATA: '/var/lib/mloop' });
    expect(c.auth).toEqual({
      tokensFile: '/var/lib/mloop/auth/tokens.json',
      cliTokenFile: '/var/lib/mloop/auth/cli-token',
      bootstrap: true,
    });
    expect(c.apiAllowedHosts).toEqual(['localhost', '127.0.0.1', '[::1]']);
  });

  it('creates nothing when tokens are configured', () => {
    const tokens = '{"tokens": []}';
    expect(loadConfig({ MLOOP_TOKENS: tokens }).auth).toMatchObject({ envTokens: tokens, bootstrap: false });
    const file = loadConfig({ MLOOP_TOKENS_FILE: 'conf/tokens.json' }).auth;
    expect(file).toMatchObject({ tokensFile: path.resolve('conf/tokens.json'), bootstrap: false });
  });

  it('allows configured host names and the address the API binds', () => {
    const c = loadConfig({
      MLOOP_API_HOST: '10.0.0.5',
      MLOOP_API_ALLOWED_HOSTS: ' mloop.example.com , API.internal:8443,[fd00::1]',
    });
    expect(c.apiAllowedHosts).toEqual([
      'localhost',
      '127.0.0.1',
      '[::1]',
      '10.0.0.5',
      'mloop.example.com',
      'api.internal:8443',
      '[fd00::1]',
    ]);
    expect(loadConfig({ MLOOP_API_HOST: '0.0.0.0' }).apiAllowedHosts).toEqual(['localhost', '127.0.0.1', '[::1]']);
    expect(loadConfig({ MLOOP_API_HOST: '::1' }).apiAllowedHosts).toEqual(['localhost', '127.0.0.1', '[::1]']);
  });

  it.each(['*', 'http://mloop.example.com', 'a b', 'host:port', 'mloop.example.com/'])(
    'refuses %j in MLOOP_API_ALLOWED_HOSTS',
    (h) => {
      expect(() => loadConfig({ MLOOP_API_ALLOWED_HOSTS: h })).toThrow('MLOOP_API_ALLOWED_HOSTS: ');
    },
  );
});
