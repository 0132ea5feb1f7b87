import { describe, expect, it } from 'vitest';
import { redactUrlCredentials, validateRef, validateRepoPath, validateRepoUrl } from '../../../core/git/repo-source';

describe('repo source validation', () => {
  it.each([
    '/srv/models/pm',
    'file:///srv/models/pm',
    'https://github.com/acme/models.git',
    'ssh://git@host/acme/models.git',
    'git@github.com:acme/models.git',
  ])('accepts %s', (url) => expect(validateRepoUrl(url)).toBe(url));

  it.each([
    ['--upload-pack=x', 'must not start with "-"'],
    ['ext::sh -c x', 'whitespace'],
    ['ext::sh', 'transport helpers'],
    ['ftp://host/repo', 'scheme "ftp" is not allowed'],
    ['git://host/repo', 'scheme "git" is not allowed'],
    ['relative/path', 'must be an absolute path or a URL'],
    ['', 'must not be empty'],
  ])('refuses url %j (%s)', (url, reason) => {
    expect(() => validateRepoUrl(url)).toThrow(reason);
  });

  it.each([
    'https://deploy:pa55@git.example/m.git',
    'https://ghp_t0ken@github.com/acme/m.git',
    'HTTPS://U:pa55@GIT.EXAMPLE/m.git',
    'https:deploy:pa55@git.example/m.git',
    'https://x:pa55@word@git.example/m.git',
    'ssh://git:pa55@git.example/m.git',
    'file://me:pa55@localhost/srv/m',
  ])('refuses credentials in %s without echoing them', (url) => {
    let message = '';
    try {
      validateRepoUrl(url);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^repo\.url: /);
    expect(message).not.toMatch(/pa55|t0ken/);
  });

  it('keeps ssh user names, which are no secret', () => {
    expect(validateRepoUrl('ssh://git@github.com/acme/m.git')).toBe('ssh://git@github.com/acme/m.git');
    expect(validateRepoUrl('git@github.com:acme/m.git')).toBe('git@github.com:acme/m.git');
  });

  it('redacts URL credentials anywhere in a text', () => {
    const clone = 'cannot clone https://[redacted]@h/x: denied;';
    expect(
      redactUrlCredentials(
        'cannot clone https://u:pa55@h/x: denied; also http://t0ken@h/y and ssh://git:pa55@h/z, ssh://git@h/k',
      ),
    ).toBe(`${clone} also http://[redacted]@h/y and ssh://git:[redacted]@h/z, ssh://git@h/k`);
  });

  it.each(['main', 'v1.2.3', 'feature/x-y', 'a'.repeat(40), 'HEAD'])('accepts ref %s', (ref) =>
    expect(validateRef(ref)).toBe(ref),
  );

  it.each(['--upload-pack=x', '-b', 'a..b', 'x y', 'ref.lock', 'a//b', '/abs', 'ref@{1}', ''])(
    'refuses ref %j',
    (ref) => {
      expect(() => validateRef(ref)).toThrow(/repo\.ref/);
    },
  );

  it('normalises and confines repo paths', () => {
    expect(validateRepoPath('./models//pm/')).toBe('models/pm');
    expect(() => validateRepoPath('../x')).toThrow('must not leave the repository');
    expect(() => validateRepoPath('/etc')).toThrow('relative folder');
  });
});
