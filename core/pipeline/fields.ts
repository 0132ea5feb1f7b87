/**
 * Field schemas of the JSON records on a pipeline's topics: what validation checks between
 * stages, and what processors and connectors check each record against at run time.
 */
export const fieldTypes = ['number', 'integer', 'string', 'boolean', 'any'] as const;
export type FieldType = (typeof fieldTypes)[number];

/** Field name → type. Every declared field must be present in a record; null stands for a missing value. */
export type FieldSchema = Record<string, FieldType>;

export const fieldNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether a value of type `actual` can go where `wanted` is expected. */
export function fits(actual: FieldType | 'null', wanted: FieldType): boolean {
  if (wanted === 'any' || actual === 'any' || actual === 'null') return true;
  if (wanted === 'number') return actual === 'number' || actual === 'integer';
  return actual === wanted;
}

function valueFits(v: unknown, type: FieldType): boolean {
  switch (type) {
    case 'any':
      return true;
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return typeof v === 'number' && Number.isSafeInteger(v);
  }
}

/** The first way `record` breaks `schema`, or null when it fits. Extra fields are allowed. */
export function recordProblem(record: Record<string, unknown>, schema: FieldSchema): string | null {
  return recordChecker(schema)(record);
}

const checkers = new WeakMap<FieldSchema, (record: Record<string, unknown>) => string | null>();

/** `recordProblem` for one schema, with the schema's entries read once (it runs per record). */
export function recordChecker(schema: FieldSchema): (record: Record<string, unknown>) => string | null {
  const known = checkers.get(schema);
  if (known) return known;
  const entries = Object.entries(schema);
  const check = (record: Record<string, unknown>): string | null => {
    for (let i = 0; i < entries.length; i++) {
      const [name, type] = entries[i] as [string, FieldType];
      if (!Object.hasOwn(record, name)) return `missing field "${name}"`;
      const v = record[name];
      if (v === null || valueFits(v, type)) continue;
      const shown =
        typeof v === 'string' ? JSON.stringify(v).slice(0, 40) : typeof v === 'object' ? 'an object' : String(v);
      return `field "${name}" is ${shown}, not ${type === 'integer' ? 'an integer' : `a ${type}`}`;
    }
    return null;
  };
  checkers.set(schema, check);
  return check;
}

/** Parses a record value: a JSON object, or null with the reason. */
export function parseRecord(value: string): { record: Record<string, unknown> } | { problem: string } {
  const row = parseRow(value);
  return typeof row === 'string' ? { problem: row } : { record: row };
}

/** `parseRecord` without a wrapper object per record (stream stages call it for every one): the object, or why not. */
export function parseRow(value: string): Record<string, unknown> | string {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return 'not valid JSON';
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
  return v as Record<string, unknown>;
}
