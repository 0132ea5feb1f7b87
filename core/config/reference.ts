import { Kind, type TSchema } from '@sinclair/typebox';
import { ConfigSchema, configFileVariable, configGroups, metaOf, settingNames } from './schema';

/** docs/CONFIGURATION.md, written from the schema by scripts/config-doc.ts; a test keeps the file equal to it. */
export function renderConfigReference(): string {
  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated from core/config/schema.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    'Every process (the API, the worker, the CLI) reads its settings from the environment and, when',
    `\`${configFileVariable}\` names one, from a YAML or JSON file that maps the same names to values, e.g.`,
    '`MLOOP_API_PORT: 8081` or `KAFKA_BROKERS: [kafka-1:9092, kafka-2:9092]`. The environment wins over',
    'the file, and an empty variable counts as unset. Each process checks all of its settings before it',
    'starts anything: a bad value stops it with exit code 78 and a message naming the variable, e.g.',
    '`MLOOP_API_PORT: expected a port 1–65535, got "80a"`. A name in the file that is no setting is an',
    'error too (a typo would otherwise be ignored). Lists take their separator in the environment and',
    'a list or the same text in the file. Secrets are never repeated in messages.',
    '',
  ];
  for (const group of configGroups) {
    const names = settingNames.filter((n) => metaOf(ConfigSchema.properties[n]).group === group);
    if (names.length === 0) continue;
    lines.push(`## ${group}`, '', '| variable | value | default | read by | what |', '| --- | --- | --- | --- | --- |');
    for (const name of names) {
      const schema = ConfigSchema.properties[name] as TSchema;
      const meta = metaOf(schema);
      const cells = [`\`${name}\``, meta.expected, defaultOf(schema), meta.usedBy.join(', '), meta.description];
      lines.push(`| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

function defaultOf(schema: TSchema): string {
  const meta = metaOf(schema);
  if (meta.defaultText !== undefined) return meta.defaultText;
  const value: unknown = schema.default;
  if (value === undefined) return 'none';
  if (schema[Kind] === 'Array' && Array.isArray(value)) return `\`${value.join(meta.separator ?? ',')}\``;
  return `\`${String(value)}\``;
}
