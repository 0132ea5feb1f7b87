import { compileExpression } from './expression';
import type { FieldSchema } from './fields';
import type { FilterTransform, MapTransform, ProjectTransform } from './spec';

/**
 * The record-at-a-time built-ins, compiled once: a function from an input record to its
 * output record, or null when a filter drops it. It throws `EvaluationError` for a record it
 * cannot compute (the processor dead-letters it with the reason).
 */
export type RecordStep = (record: Record<string, unknown>) => Record<string, unknown> | null;

export function compileStep(t: FilterTransform | MapTransform | ProjectTransform, input: FieldSchema): RecordStep {
  switch (t.kind) {
    case 'filter': {
      const where = compileExpression(t.where, input);
      // Only true keeps a record: a condition on a missing (null) value is not met.
      return (record) => (where.evaluate(record) === true ? record : null);
    }
    case 'map': {
      const renames = Object.entries(t.rename ?? {});
      const sets = Object.entries(t.set ?? {}).map(
        ([name, source]) => [name, compileExpression(source, input)] as const,
      );
      const drops = t.drop ?? [];
      return (record) => {
        // Expressions read the input as it came, before renames.
        const computed = sets.map(([name, e]) => [name, e.evaluate(record)] as const);
        const out: Record<string, unknown> = { ...record };
        for (const [from] of renames) delete out[from];
        for (const [from, to] of renames) if (Object.hasOwn(record, from)) out[to] = record[from];
        for (const [name, v] of computed) out[name] = v;
        for (const name of drops) delete out[name];
        return out;
      };
    }
    case 'project': {
      if (Array.isArray(t.fields)) {
        const keep = t.fields;
        return (record) => {
          const out: Record<string, unknown> = {};
          for (const name of keep) out[name] = Object.hasOwn(record, name) ? record[name] : null;
          return out;
        };
      }
      const fields = Object.entries(t.fields).map(
        ([name, source]) => [name, compileExpression(source, input)] as const,
      );
      return (record) => {
        const out: Record<string, unknown> = {};
        for (const [name, e] of fields) out[name] = e.evaluate(record);
        return out;
      };
    }
  }
}
