import type { FieldSchema, FieldType } from '../pipeline/fields';

/**
 * CSV as RFC 4180 writes it (quoted fields, doubled quotes, commas and newlines inside
 * quotes), one record at a time, typed by the source's fields.
 */
export function splitCsvLine(line: string): string[] | { problem: string } {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  let atStart = true;
  while (i < line.length) {
    const c = line[i] as string;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (c === '"') {
        quoted = false;
        i++;
        if (i < line.length && line[i] !== ',') return { problem: `text after a closing quote at column ${i + 1}` };
        continue;
      }
      cell += c;
      i++;
      continue;
    }
    if (c === '"' && atStart) {
      quoted = true;
      atStart = false;
      i++;
    } else if (c === ',') {
      cells.push(cell);
      cell = '';
      atStart = true;
      i++;
    } else {
      cell += c;
      atStart = false;
      i++;
    }
  }
  if (quoted) return { problem: 'a quoted field is not closed' };
  cells.push(cell);
  return cells;
}

/** Whether a physical line ends inside a quoted field (the record continues on the next line). */
export function opensQuote(text: string): boolean {
  let quoted = false;
  for (const c of text) if (c === '"') quoted = !quoted;
  return quoted;
}

function typed(text: string, type: FieldType, name: string): unknown | { problem: string } {
  if (text === '') return null;
  switch (type) {
    case 'string':
      return text;
    case 'boolean':
      if (text === 'true' || text === 'false') return text === 'true';
      return { problem: `field "${name}" is ${JSON.stringify(text)}, not true or false` };
    case 'number':
    case 'integer': {
      const x = Number(text.trim());
      if (text.trim() === '' || !Number.isFinite(x))
        return { problem: `field "${name}" is ${JSON.stringify(text.slice(0, 40))}, not a finite number` };
      if (type === 'integer' && !Number.isSafeInteger(x))
        return { problem: `field "${name}" is ${text}, not an integer` };
      return x;
    }
    case 'any':
      return text;
  }
}

/** One CSV record as a row: the header names the cells; declared fields are typed, others stay text. */
export function csvRow(
  header: string[],
  cells: string[],
  fields: FieldSchema,
): { row: Record<string, unknown> } | { problem: string } {
  if (cells.length !== header.length) return { problem: `${cells.length} cells for ${header.length} columns` };
  const row: Record<string, unknown> = {};
  for (let i = 0; i < header.length; i++) {
    const name = header[i] as string;
    const type = fields[name];
    const v = type ? typed(cells[i] as string, type, name) : cells[i];
    if (v !== null && typeof v === 'object' && 'problem' in v) return v as { problem: string };
    row[name] = v;
  }
  return { row };
}
