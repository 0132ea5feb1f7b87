import { compileExpression, ExpressionError, type ValueType } from './expression';
import { fits, type FieldSchema, type FieldType } from './fields';
import { durationMs, type SourceSpec, type TransformSpec, type WindowTransform } from './spec';
import type { FeatureSpec } from '../serving/kserve-client';

/**
 * What each stage of a pipeline reads and writes, field by field: the output schema of a
 * transform from its input schema, or the problems that stop it (each with its place inside
 * the transform, e.g. `where` or `aggregates.mean_t.field`).
 */
export interface FieldProblem {
  /** Path below the transform or source, e.g. `set.ratio`. */
  at: string;
  message: string;
}

export type Outcome = { fields: FieldSchema; problems: [] } | { fields: null; problems: FieldProblem[] };

/** The fields the example's sensor generator writes (examples/predictive-maintenance/data/sensors.ts). */
export const sensorFields: FieldSchema = {
  machine_id: 'string',
  temperature_c: 'number',
  vibration_mm_s: 'number',
  pressure_bar: 'number',
  rpm: 'number',
  operating_hours: 'number',
  ts: 'string',
};

export const windowStartField = 'window_start';
export const windowEndField = 'window_end';
/** A record may fall into at most this many hopping windows (size / advance). */
export const maxWindowsPerRecord = 1000;

export function sourceFields(source: SourceSpec): FieldSchema {
  return source.kind === 'sensors' ? sensorFields : source.fields;
}

const asField = (t: ValueType): FieldType => (t === 'null' ? 'any' : t);
const known = (schema: FieldSchema): string => {
  const names = Object.keys(schema).sort();
  return names.length ? names.join(', ') : 'no fields';
};

function expression(at: string, source: string, schema: FieldSchema, problems: FieldProblem[]): ValueType | null {
  try {
    return compileExpression(source, schema).type;
  } catch (err) {
    if (err instanceof ExpressionError) {
      problems.push({ at, message: `${source}: column ${err.column}: ${err.reason}` });
      return null;
    }
    throw err;
  }
}

const done = (fields: FieldSchema, problems: FieldProblem[]): Outcome =>
  problems.length ? { fields: null, problems } : { fields, problems: [] };

/**
 * The output fields of `t` given its input's fields. `features` is the feature list of the
 * model behind a `model` transform (from its manifest); other kinds ignore it.
 */
export function transformOutput(t: TransformSpec, input: FieldSchema, features?: readonly FeatureSpec[]): Outcome {
  const problems: FieldProblem[] = [];
  switch (t.kind) {
    case 'filter': {
      const type = expression('where', t.where, input, problems);
      if (type !== null && !['boolean', 'any', 'null'].includes(type)) {
        problems.push({ at: 'where', message: `${t.where}: is a ${type}, a filter needs a condition (true or false)` });
      }
      return done(input, problems);
    }
    case 'map': {
      const out: FieldSchema = { ...input };
      for (const [from, to] of Object.entries(t.rename ?? {})) {
        if (!(from in input))
          problems.push({
            at: `rename.${from}`,
            message: `no field "${from}" to rename; the input has ${known(input)}`,
          });
        else if (to !== from && to in input && !(to in (t.rename ?? {}))) {
          problems.push({
            at: `rename.${from}`,
            message: `cannot rename to "${to}": the input already has that field`,
          });
        } else {
          delete out[from];
        }
      }
      for (const [from, to] of Object.entries(t.rename ?? {})) if (from in input) out[to] = input[from] as FieldType;
      for (const [name, source] of Object.entries(t.set ?? {})) {
        const type = expression(`set.${name}`, source, input, problems);
        if (type !== null) out[name] = asField(type);
      }
      for (const name of t.drop ?? []) {
        if (!(name in out)) problems.push({ at: 'drop', message: `no field "${name}" to drop` });
        delete out[name];
      }
      return done(out, problems);
    }
    case 'project': {
      const out: FieldSchema = {};
      if (Array.isArray(t.fields)) {
        for (const name of t.fields) {
          if (name in input) out[name] = input[name] as FieldType;
          else problems.push({ at: 'fields', message: `no field "${name}" to keep; the input has ${known(input)}` });
        }
      } else {
        for (const [name, source] of Object.entries(t.fields)) {
          const type = expression(`fields.${name}`, source, input, problems);
          if (type !== null) out[name] = asField(type);
        }
      }
      return done(out, problems);
    }
    case 'window':
      return windowOutput(t, input, problems);
    case 'model': {
      if (!features) return done(input, problems);
      for (const f of features) {
        const have = input[f.name];
        if (have === undefined) {
          problems.push({
            at: 'input',
            message:
              `the model reads "${f.name}" (${f.type}), which topic "${t.input}" does not have; ` +
              `it has ${known(input)}`,
          });
        } else if (!fits(have, f.type)) {
          problems.push({
            at: 'input',
            message: `the model reads "${f.name}" as ${f.type}, topic "${t.input}" has it as ${have}`,
          });
        }
      }
      const out: FieldSchema = { ...input };
      const prediction = t.prediction ?? 'prediction';
      const probability = t.probability ?? 'probability';
      if (prediction === probability)
        problems.push({ at: 'probability', message: `"${probability}" is also the prediction field` });
      for (const [at, name] of [
        ['prediction', prediction],
        ['probability', probability],
      ] as const) {
        if (name in input)
          problems.push({
            at,
            message: `the output field "${name}" would overwrite the input field of that name; choose another`,
          });
      }
      out[prediction] = 'any';
      out[probability] = 'number';
      return done(out, problems);
    }
  }
}

function windowOutput(t: WindowTransform, input: FieldSchema, problems: FieldProblem[]): Outcome {
  const keyType = input[t.key];
  if (keyType === undefined)
    problems.push({ at: 'key', message: `no field "${t.key}" to key windows by; the input has ${known(input)}` });
  else if (keyType === 'boolean')
    problems.push({ at: 'key', message: `"${t.key}" is a boolean; key windows by a string or number field` });
  if (t.time !== undefined) {
    const timeType = input[t.time];
    if (timeType === undefined)
      problems.push({ at: 'time', message: `no field "${t.time}" for event time; the input has ${known(input)}` });
    else if (timeType === 'boolean')
      problems.push({
        at: 'time',
        message: `"${t.time}" is a boolean; event time is ISO 8601 text or epoch milliseconds`,
      });
  }
  const size = durationMs(t.window.size);
  if (size === 0) problems.push({ at: 'window.size', message: 'must be longer than 0' });
  if (t.window.type === 'tumbling' && t.window.advance !== undefined && durationMs(t.window.advance) !== size) {
    problems.push({
      at: 'window.advance',
      message: 'a tumbling window advances by its size; use type "hopping" for another advance',
    });
  }
  if (t.window.type === 'hopping') {
    if (t.window.advance === undefined)
      problems.push({ at: 'window.advance', message: 'a hopping window needs an advance' });
    else {
      const advance = durationMs(t.window.advance);
      if (advance === 0 || advance > size)
        problems.push({
          at: 'window.advance',
          message: `must be longer than 0 and at most the size (${t.window.size})`,
        });
      else if (size / advance > maxWindowsPerRecord) {
        problems.push({
          at: 'window.advance',
          message: `puts each record in ${Math.ceil(size / advance)} windows; at most ${maxWindowsPerRecord}`,
        });
      }
    }
  }
  const out: FieldSchema = { [t.key]: keyType ?? 'any', [windowStartField]: 'string', [windowEndField]: 'string' };
  for (const [name, agg] of Object.entries(t.aggregates)) {
    const at = `aggregates.${name}`;
    if (name in out) {
      problems.push({
        at,
        message: `"${name}" is already an output field (the key, ${windowStartField} or ${windowEndField})`,
      });
      continue;
    }
    if (agg.field === undefined) {
      if (agg.op !== 'count') problems.push({ at: `${at}.field`, message: `${agg.op} needs a field` });
      out[name] = agg.op === 'count' ? 'integer' : 'any';
      continue;
    }
    const type = input[agg.field];
    if (type === undefined) {
      problems.push({ at: `${at}.field`, message: `no field "${agg.field}"; the input has ${known(input)}` });
    } else if (agg.op !== 'count' && agg.op !== 'last' && !fits(type, 'number')) {
      problems.push({ at: `${at}.field`, message: `${agg.op} needs a number, "${agg.field}" is ${type}` });
    }
    out[name] = agg.op === 'count' ? 'integer' : agg.op === 'last' ? (type ?? 'any') : 'number';
  }
  return done(out, problems);
}
