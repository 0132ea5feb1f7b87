import type { StreamRecord } from '../kafka/adapter';
import { recordProblem, type FieldSchema } from '../pipeline/fields';

/**
 * A source's row as a Kafka record: checked against the source's fields, keyed by its key
 * field (when it names one), written as JSON. Returns the reason when the row does not fit.
 */
export function toStreamRecord(
  row: Record<string, unknown>,
  fields: FieldSchema,
  keyField: string | undefined,
): StreamRecord | { problem: string } {
  const problem = recordProblem(row, fields);
  if (problem) return { problem };
  let key: string | null = null;
  if (keyField !== undefined) {
    const k = row[keyField];
    if (typeof k !== 'string' && typeof k !== 'number')
      return { problem: `key field "${keyField}" is ${k === null ? 'null' : 'not a string or number'}` };
    key = String(k);
  }
  return { key, value: JSON.stringify(row) };
}

export const isProblem = (x: StreamRecord | { problem: string }): x is { problem: string } => 'problem' in x;

/** Waits `ms`, or less if `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
