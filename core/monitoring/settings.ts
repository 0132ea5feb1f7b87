import { invalidInput as invalid } from '../errors';
import {
  defaultMonitoringSettings,
  type MonitoringSettings,
  type RetrainingPolicy,
} from '../../workflows/monitoring-definitions';

/** What PATCH may change; every field optional, `null` removes an optional one (input, webhook). */
export interface MonitoringPatch {
  intervalMinutes?: number;
  paused?: boolean;
  input?: MonitoringSettings['input'] | null;
  windowMinutes?: number;
  minRows?: number;
  webhook?: MonitoringSettings['webhook'] | null;
  dedupeMinutes?: number;
  retraining?: Partial<RetrainingPolicy>;
}

/** A model's stored settings with the defaults under them (nothing stored: the defaults). */
export function effectiveSettings(stored: unknown): MonitoringSettings {
  const s = (stored ?? {}) as Partial<MonitoringSettings>;
  return {
    ...defaultMonitoringSettings,
    ...s,
    retraining: { ...defaultMonitoringSettings.retraining, ...s.retraining },
  };
}

/**
 * Applies a change and checks the result as a whole, naming the field at fault: a policy that
 * retrains needs fresh data, a topic window must be positive, a webhook needs an https or
 * loopback http URL and an environment variable name for its secret.
 */
export function applyPatch(current: MonitoringSettings, patch: MonitoringPatch, where = ''): MonitoringSettings {
  const next: MonitoringSettings = { ...current, retraining: { ...current.retraining, ...patch.retraining } };
  for (const key of ['intervalMinutes', 'paused', 'windowMinutes', 'minRows', 'dedupeMinutes'] as const) {
    if (patch[key] !== undefined) (next as unknown as Record<string, unknown>)[key] = patch[key];
  }
  for (const key of ['input', 'webhook'] as const) {
    if (patch[key] === null) delete next[key];
    else if (patch[key] !== undefined) (next as unknown as Record<string, unknown>)[key] = patch[key];
  }
  checkSettings(next, where);
  return next;
}

/** Checks settings as a whole; `where` prefixes the field named in an error (e.g. `body.`). */
export function checkSettings(s: MonitoringSettings, where = ''): void {
  const invalidInput = (field: string, reason: string) => invalid(`${where}${field}`, reason);
  const positive = (field: string, v: number, max: number): void => {
    if (!Number.isInteger(v) || v < 1 || v > max)
      throw invalidInput(field, `must be an integer from 1 to ${max} (got ${v})`);
  };
  positive('intervalMinutes', s.intervalMinutes, 7 * 24 * 60);
  positive('windowMinutes', s.windowMinutes, 31 * 24 * 60);
  positive('minRows', s.minRows, 1e9);
  positive('dedupeMinutes', s.dedupeMinutes, 365 * 24 * 60);
  positive('retraining.cooldownMinutes', s.retraining.cooldownMinutes, 365 * 24 * 60);
  if (s.input) {
    if (!s.input.topic) throw invalidInput('input.topic', 'must name a topic');
    if (!s.input.eventTimeField) throw invalidInput('input.eventTimeField', 'must name the field of event time');
  }
  if (s.webhook) {
    let url: URL;
    try {
      url = new URL(s.webhook.url);
    } catch {
      throw invalidInput('webhook.url', `is not a URL (got "${s.webhook.url}")`);
    }
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) {
      throw invalidInput('webhook.url', 'must be https, or http to a loopback address');
    }
    if (url.username || url.password) throw invalidInput('webhook.url', 'must not carry credentials');
    if (!/^[A-Z_][A-Z0-9_]{0,127}$/.test(s.webhook.secretEnv)) {
      throw invalidInput(
        'webhook.secretEnv',
        `must be an environment variable name like MLOOP_WEBHOOK_SECRET (got "${s.webhook.secretEnv}")`,
      );
    }
  }
  const r = s.retraining;
  if (r.mode === 'on' && !r.data)
    throw invalidInput('retraining.data', 'a retraining policy that is on needs fresh data: a topic or a dataset');
  if (r.data?.kind === 'topic') {
    if (!r.data.topic) throw invalidInput('retraining.data.topic', 'must name a topic');
    positive('retraining.data.lookbackMinutes', r.data.lookbackMinutes, 365 * 24 * 60);
  }
  if (r.data?.kind === 'dataset' && !r.data.path.startsWith('/')) {
    throw invalidInput('retraining.data.path', `must be an absolute path (got "${r.data.path}")`);
  }
}
