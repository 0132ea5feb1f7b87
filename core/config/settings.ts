import fs from 'node:fs';
import path from 'node:path';
import { Kind, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import YAML from 'yaml';
import { yamlDepthProblem } from '../data/bounded-yaml';
import { ConfigSchema, configFileVariable, metaOf, settingNames, type SettingName } from './schema';

export type Settings = Partial<Static<typeof ConfigSchema>>;

/** One bad setting: its name, where it came from, and what is wrong, in words. */
export interface ConfigProblem {
  name: string;
  source: string;
  message: string;
}

/** Every problem of a configuration at once, so a start names them all, not one per try. */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => p.message).join('\n'));
    this.name = 'ConfigError';
  }
}

/**
 * The settings from the environment over those of the file that MLOOP_CONFIG names (YAML or
 * JSON, keyed by the same names), each checked against its schema. An empty variable counts as
 * unset. Throws a ConfigError naming every bad variable and its value (secrets are not repeated).
 */
export function readSettings(env: NodeJS.ProcessEnv): Settings {
  const problems: ConfigProblem[] = [];
  const fromFile = readFile(env[configFileVariable], problems);
  const settings: Record<string, unknown> = {};
  for (const name of settingNames) {
    const envValue = env[name];
    const fromEnv = envValue !== undefined && envValue.trim() !== '';
    const raw = fromEnv ? envValue : fromFile.values[name];
    if (raw === undefined || raw === null) continue;
    const source = fromEnv ? 'environment' : fromFile.path!;
    const checked = checkSetting(name, raw, source);
    if ('problem' in checked) problems.push(checked.problem);
    else settings[name] = checked.value;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return settings as Settings;
}

function readFile(
  file: string | undefined,
  problems: ConfigProblem[],
): { path?: string; values: Record<string, unknown> } {
  if (file === undefined || file.trim() === '') return { values: {} };
  const where = path.resolve(file);
  const fail = (message: string): { values: Record<string, unknown> } => {
    problems.push({ name: configFileVariable, source: 'environment', message: `${configFileVariable}: ${message}` });
    return { values: {} };
  };
  let text: string;
  try {
    text = fs.readFileSync(where, 'utf8');
  } catch (err) {
    return fail(`cannot read ${where} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const tooDeep = yamlDepthProblem(text);
  if (tooDeep) return fail(`${where}: ${tooDeep}`);
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (err) {
    return fail(`${where} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return { path: where, values: {} };
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    return fail(`${where} must hold a mapping of setting names to values`);
  }
  const values = parsed as Record<string, unknown>;
  for (const key of Object.keys(values)) {
    if (!(settingNames as string[]).includes(key)) {
      problems.push({
        name: key,
        source: where,
        message: `${key} (in ${where}): not a setting of mloop (see docs/CONFIGURATION.md)`,
      });
    }
  }
  return { path: where, values };
}

/** Turns a raw value (text from the environment, or a file's value) into the setting's type and checks it. */
export function checkSetting(
  name: SettingName,
  raw: unknown,
  source: string,
): { value: unknown } | { problem: ConfigProblem } {
  const schema = ConfigSchema.properties[name] as TSchema;
  const meta = metaOf(schema);
  const label = source === 'environment' ? name : `${name} (in ${source})`;
  const shown = meta.secret ? '(the value is secret and not shown)' : JSON.stringify(raw);
  const problem = (message: string): { problem: ConfigProblem } => ({ problem: { name, source, message } });

  if (schema[Kind] === 'Array') {
    const item = schema.items as TSchema;
    const items =
      typeof raw === 'string'
        ? raw
            .split(meta.separator ?? ',')
            .map((s) => s.trim())
            .filter(Boolean)
        : raw;
    if (!Array.isArray(items) || items.length === 0)
      return problem(`${label}: expected ${meta.expected}, got ${shown}`);
    const values: unknown[] = [];
    for (const it of items) {
      const value = convert(item, it);
      if (!Value.Check(item, value)) {
        return problem(`${label}: ${meta.secret ? 'an item' : JSON.stringify(it)} is not ${metaOf(item).expected}`);
      }
      values.push(value);
    }
    return { value: values };
  }
  const value = convert(schema, typeof raw === 'string' ? raw.trim() : raw);
  if (!Value.Check(schema, value)) return problem(`${label}: expected ${meta.expected}, got ${shown}`);
  return { value };
}

/** Text that spells a whole number becomes that number; anything else is left for the check to refuse. */
function convert(schema: TSchema, raw: unknown): unknown {
  if (schema[Kind] === 'Integer' && typeof raw === 'string' && /^-?[0-9]{1,15}$/.test(raw)) return Number(raw);
  if (schema[Kind] !== 'Integer' && (typeof raw === 'number' || typeof raw === 'boolean')) return String(raw);
  return raw;
}
