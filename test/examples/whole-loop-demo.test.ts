import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config';
import { readTokenFileSync } from '../../core/auth/token-file';
import { TokenStore } from '../../core/auth/token-store';
import { featureColumns, generateReading, createRng } from '../../examples/predictive-maintenance/data/sensors';
import { approverSubject, ensureApproverToken } from '../../examples/predictive-maintenance/demo/approver-token';
import { quietAfter } from '../../examples/predictive-maintenance/demo/quiet';
import { shiftReading } from '../../examples/predictive-maintenance/demo/drift';
import { formatSummary, runKey } from '../../examples/predictive-maintenance/demo/summary';
import {
  receiverPortOf,
  startWebhookReceiver,
  validSignature,
} from '../../examples/predictive-maintenance/demo/webhook';

const dirs: string[] = [];
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'whole-loop-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('injected drift', () => {
  it('moves three of the five features, a share past the dataset-drift threshold of 0.5', () => {
    const rng = createRng(1);
    const before = generateReading(rng);
    const after = shiftReading(before);
    const moved = featureColumns.filter((f) => after[f] !== before[f]);
    expect(moved).toEqual(['temperature_c', 'vibration_mm_s', 'pressure_bar']);
    expect(moved.length / featureColumns.length).toBeGreaterThanOrEqual(0.5);
    expect(after.machine_id).toBe(before.machine_id);
  });

  it('moves each shifted feature by about two standard deviations of its distribution', () => {
    const rng = createRng(2);
    const rows = Array.from({ length: 5000 }, () => generateReading(rng));
    const stats = (xs: number[]) => {
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      return { mean, sd: Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length) };
    };
    for (const f of ['temperature_c', 'vibration_mm_s', 'pressure_bar'] as const) {
      const a = stats(rows.map((r) => r[f]));
      const b = stats(rows.map((r) => shiftReading(r)[f]));
      expect(Math.abs(b.mean - a.mean) / a.sd).toBeGreaterThan(1.5);
    }
  });

  it('never makes a pressure below zero', () => {
    const r = shiftReading({ ...generateReading(createRng(3)), pressure_bar: 0.5 });
    expect(r.pressure_bar).toBe(0);
  });
});

describe('webhook signatures', () => {
  const body = Buffer.from('{"machine_id":"M-0001"}');
  const sign = (secret: string, b: Buffer) => `sha256=${createHmac('sha256', secret).update(b).digest('hex')}`;

  it('accepts the HMAC of the body under the secret and refuses anything else', () => {
    expect(validSignature('s3cret', body, sign('s3cret', body))).toBe(true);
    expect(validSignature('s3cret', body, sign('other', body))).toBe(false);
    expect(validSignature('s3cret', Buffer.from('{}'), sign('s3cret', body))).toBe(false);
    expect(validSignature('s3cret', body, undefined)).toBe(false);
    expect(validSignature('s3cret', body, 'sha256=')).toBe(false);
  });

  it('refuses every post when no secret is set, even one signed with the empty secret', () => {
    expect(validSignature('', body, sign('', body))).toBe(false);
  });

  it('counts signed posts and answers 401 to unsigned ones', async () => {
    const receiver = await startWebhookReceiver(0, 'k');
    try {
      const port = receiver.port;
      const post = (headers: Record<string, string>) =>
        fetch(`http://127.0.0.1:${port}/alerts`, { method: 'POST', body, headers }).then((r) => r.status);
      expect(await post({ 'x-mloop-signature': sign('k', body) })).toBe(204);
      expect(await post({})).toBe(401);
      expect(receiver.counts()).toEqual({ valid: 1, refused: 1 });
    } finally {
      await receiver.close();
    }
  });

  it('names the port when it is taken', async () => {
    const first = await startWebhookReceiver(0, 'k');
    try {
      await expect(startWebhookReceiver(first.port, 'k')).rejects.toThrow(`port ${first.port} is in use`);
    } finally {
      await first.close();
    }
  });
});

describe('the receiver port', () => {
  it("is the port of the example pipeline's webhook sink, not the deploy proxy's 8090", async () => {
    const text = fs.readFileSync(
      path.join(import.meta.dirname, '../../examples/predictive-maintenance/pipeline.yaml'),
      'utf8',
    );
    const { parse } = await import('yaml');
    const port = receiverPortOf(parse(text));
    expect(port).toBe(8099);
    expect(port).not.toBe(loadConfig({}).deploy.proxyPort);
  });

  it('refuses a spec without a webhook sink, or one posting elsewhere than loopback http', () => {
    expect(() => receiverPortOf({ sinks: [{ name: 'db', kind: 'postgres' }] })).toThrow('no webhook sink');
    expect(() => receiverPortOf({ sinks: [{ name: 'w', kind: 'webhook', url: 'https://example.com/a' }] })).toThrow(
      'sink w: the demo receives only on http://127.0.0.1',
    );
    expect(receiverPortOf({ sinks: [{ kind: 'webhook', url: 'http://127.0.0.1/a' }] })).toBe(80);
  });
});

describe("the demo's approver token", () => {
  it('is made once for demo-approver with the approver role, then reused', async () => {
    const d = tmp();
    const tokens = path.join(d, 'tokens.json');
    const kept = path.join(d, 'demo', 'approver-token');
    const token = await ensureApproverToken(tokens, kept);
    expect(await ensureApproverToken(tokens, kept)).toBe(token);
    const entries = readTokenFileSync(tokens);
    expect(entries).toHaveLength(1);
    const principal = new TokenStore(entries).authenticate(token);
    expect(principal?.subject).toBe(approverSubject);
    expect(principal?.roles).toEqual(['approver', 'viewer']);
    expect(fs.statSync(kept).mode & 0o777).toBe(0o600);
  });

  it("keeps the tokens already in the API's file", async () => {
    const d = tmp();
    const tokens = path.join(d, 'tokens.json');
    fs.writeFileSync(
      tokens,
      JSON.stringify({ tokens: [{ subject: 'me', roles: ['viewer'], sha256: 'a'.repeat(64) }] }),
    );
    await ensureApproverToken(tokens, path.join(d, 'approver-token'));
    expect(readTokenFileSync(tokens).map((e) => e.subject)).toEqual(['me', approverSubject]);
  });
});

describe('the summary', () => {
  it('lists each stage with its outcome, a failed one, and those not reached', () => {
    const text = formatSummary(
      [
        { stage: 'train', ok: true, outcome: 'version 1', seconds: 20.4 },
        { stage: 'shadow test', ok: false, outcome: 'too few messages', seconds: 3 },
      ],
      ['train', 'shadow test', 'staging'],
    );
    expect(text.split('\n')).toEqual([
      '  ok   train        version 1  (20 s)',
      '  FAIL shadow test  too few messages  (3 s)',
      '  --   staging      not reached',
    ]);
  });

  it('gives each run its own lifecycle key, valid as one', () => {
    const a = runKey(new Date('2026-12-01T23:15:00.123Z'));
    expect(a).toBe('demo-20261201t231500z');
    expect(a).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
    expect(runKey(new Date('2026-12-01T23:15:01Z'))).not.toBe(a);
  });
});

describe('the quiet period before a run checks for drift', () => {
  const settings = { windowMinutes: 2, cooldownMinutes: 3 };
  const now = new Date('2026-12-01T23:55:00Z');

  it('is now on a first run, or when the last run left no drift time', () => {
    expect(quietAfter({}, settings, now)).toEqual(now);
    expect(quietAfter({ driftEndedAt: 'not a time' }, settings, now)).toEqual(now);
  });

  it("waits out the longer of the window and the cool-down after the previous run's drift", () => {
    const last = { driftEndedAt: '2026-12-01T23:54:00Z' };
    expect(quietAfter(last, settings, now).toISOString()).toBe('2026-12-01T23:57:05.000Z');
    expect(quietAfter(last, { windowMinutes: 10, cooldownMinutes: 3 }, now).toISOString()).toBe(
      '2026-12-02T00:04:05.000Z',
    );
  });

  it('does not wait when that time has passed', () => {
    expect(quietAfter({ driftEndedAt: '2026-12-01T23:00:00Z' }, settings, now)).toEqual(now);
  });
});
