import { describe, expect, it } from 'vitest';
import { validateRef, validateRepoPath, validateRepoUrl } from '../../../core/git/repo-source';

describe('repo source validation', () => {
  it.each(['/srv/models/pm', 'file:///srv/models/pm', 'https://github.com/acme/models.git', 'ssh://git@host/acme/models.git', 'git@github.com:acme/models.git'])(
    'accepts %s',
    (url) => expect(validateRepoUrl(url)).toBe(url),
  );

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

  it.each(['main', 'v1.2.3', 'feature/x-y', 'a'.repeat(40), 'HEAD'])('accepts ref %s', (ref) => expect(validateRef(ref)).toBe(ref));

  it.each(['--upload-pack=x', '-b', 'a..b', 'x y', 'ref.lock', 'a//b', '/abs', 'ref@{1}', ''])('refuses ref %j', (ref) => {
    expect(() => validateRef(ref)).toThrow(/repo\.ref/);
  });

  it('normalises and confines repo paths', () => {
    expect(validateRepoPath('./models//pm/')).toBe('models/pm');
    expect(() => validateRepoPath('../x')).toThrow('must not leave the repository');
    expect(() => validateRepoPath('/etc')).toThrow('relative folder');
  });
});
