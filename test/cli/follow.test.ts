import { describe, expect, it } from 'vitest';
import type { ApiClient } from '../../cli/api-client';
import { CliError, exitCodes } from '../../cli/exit-codes';
import { followLifecycle } from '../../cli/follow';
import { bar, outcomeOf, progressLines, type LifecycleView } from '../../cli/lifecycle-view';

const id = 'lifecycle/pm/k1';
const running = (extra: Partial<LifecycleView>): LifecycleView => ({ id, status: 'RUNNING', stage: 'train', ...extra });

/** An API that answers the given views in turn (errors are thrown), then the last one forever. */
function scripted(answers: Array<LifecycleView | Error>): ApiClient {
  let i = 0;
  return {
    get: async () => {
      const a = answers[Math.min(i++, answers.length - 1)]!;
      if (a instanceof Error) throw a;
      return a;
    },
  } as unknown as ApiClient;
}

const views: LifecycleView[] = [
  running({}),
  running({ progress: { phase: 'train', status: 'started', rows: 800 } }),
  running({ progress: { phase: 'train', status: 'started', rows: 800 } }),
  running({ stage: 'shadow', shadow: { messages: 250 } }),
  running({
    stage: 'awaiting-approval',
    deploy: {
      environment: 'production',
      version: 3,
      phase: 'awaiting-approval',
      endpoints: { staging: 'http://127.0.0.1:9001' },
      approval: { deadline: '2026-12-08T00:00:00Z' },
    },
  }),
  { id, status: 'COMPLETED', stage: 'production' },
];

describe('--follow', () => {
  it('prints each line once when it changes, when stdout is not a terminal', async () => {
    let out = '';
    const last = await followLifecycle(scripted(views), id, {
      tty: false,
      intervalMs: 1,
      shadowTarget: 1000,
      write: (t) => (out += t),
    });
    expect(last.stage).toBe('production');
    expect(out).not.toContain('\x1b[');
    const lines = out.trimEnd().split('\n');
    expect(lines).toEqual([
      `${id}  RUNNING  stage: train`,
      'train     [........................]   0% starting',
      'train     [########................]  33% train started, 800 rows',
      `${id}  RUNNING  stage: shadow`,
      'shadow    [######..................]  25% 250/1000 scored',
      `${id}  RUNNING  stage: awaiting-approval`,
      'deploy    v3 awaiting-approval at http://127.0.0.1:9001',
      `approval  waiting until 2026-12-08T00:00:00Z: mloop approve ${id} [--comment TEXT]  (or mloop reject ${id})`,
      `${id}  COMPLETED  stage: production`,
    ]);
  });

  it('redraws its lines in place on a terminal', async () => {
    const frames: string[] = [];
    await followLifecycle(scripted([views[0]!, views[1]!, views[5]!]), id, {
      tty: true,
      intervalMs: 1,
      write: (t) => frames.push(t),
    });
    expect(frames[0]).not.toContain('\x1b[');
    // Two lines drawn (stage and train): back up two lines and clear before drawing again.
    expect(frames[1]?.startsWith('\x1b[2F\x1b[J')).toBe(true);
    expect(frames[2]).toBe(`\x1b[2F\x1b[J${id}  COMPLETED  stage: production\n`);
  });

  it('rides out a short API outage but not a long one', async () => {
    const down = new CliError('cannot reach the mloop API', exitCodes.unreachable);
    const ok = await followLifecycle(scripted([down, down, views[5]!]), id, {
      tty: false,
      intervalMs: 1,
      write: () => {},
    });
    expect(ok.status).toBe('COMPLETED');
    await expect(
      followLifecycle(scripted([down]), id, { tty: false, intervalMs: 5, unreachableForMs: 20, write: () => {} }),
    ).rejects.toBe(down);
    const refused = new CliError('401', exitCodes.authRefused);
    await expect(followLifecycle(scripted([refused]), id, { tty: false, intervalMs: 1, write: () => {} })).rejects.toBe(
      refused,
    );
  });
});

describe('outcomes and bars', () => {
  it.each([
    [{ status: 'COMPLETED', stage: 'done' }, true],
    [{ status: 'COMPLETED', stage: 'production' }, true],
    [{ status: 'COMPLETED', stage: 'staged' }, true],
    [{ status: 'COMPLETED', stage: 'aborted', error: 'aborted by ada: wrong data' }, false],
    [{ status: 'COMPLETED', stage: 'rejected' }, false],
    [{ status: 'COMPLETED', stage: 'expired' }, false],
    [{ status: 'FAILED', stage: 'failed', error: 'ValueError: x' }, false],
    [{ status: 'TERMINATED' }, false],
  ] as const)('%j succeeded: %s', (v, ok) => {
    const o = outcomeOf({ id, ...v });
    expect(o).toMatchObject({ finished: true, ok });
    if (!ok && 'error' in v) expect(o).toMatchObject({ why: v.error });
  });

  it('never draws a bar past its ends, nor from a non-finite fraction', () => {
    expect(bar(-1, 4)).toBe('[....]   0%');
    expect(bar(7, 4)).toBe('[####] 100%');
    expect(bar(NaN, 4)).toBe('[....]   0%');
    expect(bar(Infinity, 4)).toBe('[....]   0%');
    expect(progressLines(running({ stage: 'shadow', shadow: { messages: 5 } }), 0)[1]?.[1]).toBe('shadow    5 scored');
  });
});
