import { compileExpression } from './expression';
import type { FieldSchema } from './fields';
import type { FilterTransform, MapTransform, ProjectTransform } from './spec';

/**
 * The record-at-a-time built-ins, compiled once: a function from an input record to its
 * output record, or null when a filter drops it. It throws `EvaluationError` for a record it
 * cannot compute (the processor dead-letters it with the reason).
 */
export type RecordStep = (record: Record<string, unknown>) => Record<string, unknown> | null;

export interface CompiledStep {
  apply: RecordStep;
  /**
   * For a step that only adds fields to its input (a `map` that renames and drops none): their
   * names, and their values for a record written into `values` in that order, without building
   * the output record; the output is the input with these fields added after its own.
   */
  adds?: { names: string[]; compute(record: Record<string, unknown>, values: unknown[]): void };
}

export function compileStep(t: FilterTransform | MapTransform | ProjectTransform, input: FieldSchema): CompiledStep {
  switch (t.kind) {
    case 'filter': {
      const where = compileExpression(t.where, input);
      // Only true keeps a record: a condition on a missing (null) value is not met.
      return { apply: (record) => (where.evaluate(record) === true ? record : null) };
    }
    case 'map': {
      const renames = Object.entries(t.rename ?? {});
      const sets = Object.entries(t.set ?? {}).map(
        ([name, source]) => [name, compileExpression(source, input)] as const,
      );
      const drops = t.drop ?? [];
      const apply: RecordStep = (record) => {
        // Expressions read the input as it came, before renames.
        const computed = sets.map(([name, e]) => [name, e.evaluate(record)] as const);
        const out: Record<string, unknown> = { ...record };
        for (const [from] of renames) delete out[from];
        for (const [from, to] of renames) if (Object.hasOwn(record, from)) out[to] = record[from];
        for (const [name, v] of computed) out[name] = v;
        for (const name of drops) delete out[name];
        return out;
      };
      if (renames.length > 0 || drops.length > 0) return { apply };
      const evaluate = sets.map(([, e]) => e.evaluate);
      return {
        apply,
        adds: {
          names: sets.map(([name]) => name),
          compute(record, values) {
            for (let i = 0; i < evaluate.length; i++) values[i] = (evaluate[i] as (typeof evaluate)[number])(record);
          },
        },
      };
    }
    case 'project': {
      if (Array.isArray(t.fields)) {
        const keep = t.fields;
        return {
          apply: (record) => {
            const out: Record<string, unknown> = {};
            for (const name of keep) out[name] = Object.hasOwn(record, name) ? record[name] : null;
            return out;
          },
        };
      }
      const fields = Object.entries(t.fields).map(
        ([name, source]) => [name, compileExpression(source, input)] as const,
      );
      return {
        apply: (record) => {
          const out: Record<string, unknown> = {};
          for (const [name, e] of fields) out[name] = e.evaluate(record);
          return out;
        },
      };
    }
  }
}
