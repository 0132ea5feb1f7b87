import { execFileSync, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const asRoot = process.getuid?.() === 0;

/** Runs a function of scripts/lib/runner.sh for a runner account of this test's own. */
function runner(user: string, fn: string): { stdout: string; stderr: string } {
  const run = spawnSync('bash', ['-c', `source scripts/lib/common.sh && source scripts/lib/runner.sh && ${fn}`], {
    cwd: root,
    env: { ...process.env, MLOOP_RUNNER_USER: user },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`${fn} failed: ${run.stderr}`);
  return { stdout: run.stdout, stderr: run.stderr };
}

describe.runIf(asRoot)('setup creates the runner account (a throwaway one here)', () => {
  const user = `mloop-runner-t${randomInt(1e5, 1e6)}`;
  afterAll(async () => {
    execFileSync('sh', ['-c', `userdel ${user} 2>/dev/null; groupdel ${user} 2>/dev/null; true`]);
    await fs.rm(`/var/lib/${user}`, { recursive: true, force: true });
  });

  it('creates a system user with a root-owned home, once', async () => {
    expect(runner(user, 'ensure_runner_user').stderr).toContain(`creating the unprivileged user ${user}`);
    expect(runner(user, 'ensure_runner_user').stderr).toBe('');
    const [, , uid, , , home, shell] = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).trim().split(':');
    expect(Number(uid)).toBeGreaterThan(0);
    expect(Number(uid)).toBeLessThan(1000); // a system account
    expect(shell).toBe('/usr/sbin/nologin');
    for (const [dir, mode] of [
      [home ?? '', 0o755],
      [`${home}/sandboxes`, 0o711],
      [`${home}/work`, 0o711],
    ] as const) {
      const st = await fs.stat(dir);
      expect([st.uid, st.mode & 0o777], dir).toEqual([0, mode]);
    }
  });

  it('picks a Python for the venv that the account can run', () => {
    const python = runner(user, 'venv_base_python').stdout.trim();
    const probe = ['/bin/sh', '-c', '"$1" -c "import sys; print(sys.prefix)"', 'sh', python];
    const asUser = execFileSync('setpriv', [`--reuid=${user}`, `--regid=${user}`, '--clear-groups', ...probe], {
      encoding: 'utf8',
    });
    expect(asUser.trim()).not.toBe('');
    console.log(`venv base for ${user}: ${python} (prefix ${asUser.trim()})`);
  });
});
