import { ExpressionError, parseExpression, type BinaryOp, type Expr } from './expression-syntax';
import type { FieldSchema, FieldType } from './fields';

export { ExpressionError } from './expression-syntax';

/**
 * Pipeline expressions: type-checked against the input's field schema before anything runs,
 * then compiled to closures (no `eval`, no `Function`). Semantics, chosen so that a number
 * users decide on is never silently wrong:
 * - null (a missing measurement) propagates through arithmetic and comparisons; `and`/`or`
 *   follow three-valued logic; a filter keeps a record only when its condition is `true`;
 * - division by zero and non-finite results are errors, so the record goes to the
 *   dead-letter topic with the reason rather than on with Infinity or NaN;
 * - no implicit conversions: `'3' + 1` is a type error.
 */
export type Value = number | string | boolean | null;
export type ValueType = FieldType | 'null';

/** A record that cannot be evaluated (a type mismatch, division by zero, an overflow). */
export class EvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvaluationError';
  }
}

export interface CompiledExpression {
  source: string;
  /** The static type; `any` when it depends on values the schema does not type. */
  type: ValueType;
  /** The input fields the expression reads (first path element). */
  fields: string[];
  evaluate(record: Record<string, unknown>): Value;
}

type Fn = (args: Value[]) => Value;
interface FunctionDef {
  arity: [number, number];
  /** Result type from argument types; throws a message when they do not fit. */
  type: (args: ValueType[]) => ValueType;
  call: Fn;
}

const isNumeric = (t: ValueType): boolean => t === 'number' || t === 'integer' || t === 'any' || t === 'null';
const isText = (t: ValueType): boolean => t === 'string' || t === 'any' || t === 'null';

function numericArgs(name: string, args: ValueType[]): void {
  const bad = args.findIndex((t) => !isNumeric(t));
  if (bad >= 0) throw new Error(`${name}() takes numbers, argument ${bad + 1} is ${args[bad]}`);
}

const numberFunction = (
  name: string,
  f: (...xs: number[]) => number,
  result: 'number' | 'same' = 'number',
): FunctionDef => ({
  arity: name === 'min' || name === 'max' ? [1, 64] : [1, 1],
  type: (args) => {
    numericArgs(name, args);
    return result === 'same' && args.every((t) => t === 'integer') ? 'integer' : 'number';
  },
  call: (args) => {
    if (args.some((a) => a === null)) return null;
    const xs = args.map((a) => expectNumber(a, `${name}()`));
    return finite(f(...xs), `${name}()`);
  },
});

/** The built-in functions: adding one is an entry here and a line in its test. */
const functions: Record<string, FunctionDef> = {
  abs: numberFunction('abs', Math.abs, 'same'),
  min: numberFunction('min', Math.min, 'same'),
  max: numberFunction('max', Math.max, 'same'),
  round: {
    arity: [1, 2],
    type: (args) => {
      numericArgs('round', args);
      return args.length === 1 ? 'integer' : 'number';
    },
    call: (args) => {
      if (args.some((a) => a === null)) return null;
      const x = expectNumber(args[0] as Value, 'round()');
      const digits = args.length > 1 ? expectNumber(args[1] as Value, 'round()') : 0;
      if (!Number.isInteger(digits) || digits < 0 || digits > 15) {
        throw new EvaluationError(`round(): digits must be an integer from 0 to 15, got ${digits}`);
      }
      const scale = 10 ** digits;
      return finite(Math.round(x * scale) / scale, 'round()');
    },
  },
  floor: numberFunction('floor', Math.floor, 'same'),
  ceil: numberFunction('ceil', Math.ceil, 'same'),
  sqrt: numberFunction('sqrt', (x) => {
    if (x < 0) throw new EvaluationError(`sqrt() of the negative number ${x}`);
    return Math.sqrt(x);
  }),
  coalesce: {
    arity: [1, 64],
    type: (args) => {
      const known = [...new Set(args.filter((t) => t !== 'null'))];
      if (known.length === 0) return 'null';
      if (known.length === 1) return known[0] as ValueType;
      if (known.every((t) => t === 'number' || t === 'integer')) return 'number';
      if (known.includes('any')) return 'any';
      throw new Error(`coalesce() arguments must have one type, got ${known.join(', ')}`);
    },
    call: (args) => args.find((a) => a !== null) ?? null,
  },
  lower: textFunction('lower', (s) => s.toLowerCase()),
  upper: textFunction('upper', (s) => s.toUpperCase()),
  concat: {
    arity: [1, 64],
    type: (args) => {
      if (args.some((t) => t === 'boolean')) throw new Error('concat() takes strings and numbers, not booleans');
      return 'string';
    },
    call: (args) => (args.some((a) => a === null) ? null : args.map((a) => String(a)).join('')),
  },
};

function textFunction(name: string, f: (s: string) => string): FunctionDef {
  return {
    arity: [1, 1],
    type: (args) => {
      if (!isText(args[0] as ValueType)) throw new Error(`${name}() takes a string, got ${args[0]}`);
      return 'string';
    },
    call: (args) => {
      const s = args[0] as Value;
      if (s === null) return null;
      if (typeof s !== 'string') throw new EvaluationError(`${name}() takes a string, got ${show(s)}`);
      return f(s);
    },
  };
}

export const functionNames = Object.keys(functions).sort();

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

function expectNumber(v: Value, where: string): number {
  if (typeof v !== 'number') throw new EvaluationError(`${where} needs a number, got ${show(v)}`);
  return v;
}

function finite(x: number, where: string): number {
  if (!Number.isFinite(x)) throw new EvaluationError(`${where} gives a non-finite result`);
  return x;
}

/**
 * Parses and type-checks `source` against `schema` (the fields of the records it will see) and
 * compiles it. Throws `ExpressionError` with the column of the first problem.
 */
export function compileExpression(source: string, schema: FieldSchema): CompiledExpression {
  const ast = parseExpression(source);
  const fields = new Set<string>();
  const type = check(ast, schema, fields);
  return { source, type, fields: [...fields], evaluate: compile(ast) };
}

function check(e: Expr, schema: FieldSchema, fields: Set<string>): ValueType {
  switch (e.type) {
    case 'literal':
      if (e.value === null) return 'null';
      if (typeof e.value === 'number') return Number.isInteger(e.value) ? 'integer' : 'number';
      return typeof e.value === 'string' ? 'string' : 'boolean';
    case 'field': {
      const [first, ...rest] = e.path as [string, ...string[]];
      const t = schema[first];
      if (t === undefined) {
        const known = Object.keys(schema).sort();
        throw new ExpressionError(
          `unknown field "${first}"; the input has ${known.length ? known.join(', ') : 'no fields'}`,
          e.column,
        );
      }
      fields.add(first);
      if (rest.length > 0 && t !== 'any')
        throw new ExpressionError(`field "${first}" is a ${t}, it has no field "${rest[0]}"`, e.column);
      return t;
    }
    case 'unary': {
      const t = check(e.operand, schema, fields);
      if (e.op === '-' && !isNumeric(t)) throw new ExpressionError(`"-" needs a number, got ${t}`, e.column);
      if (e.op === 'not' && !(t === 'boolean' || t === 'any' || t === 'null')) {
        throw new ExpressionError(`"not" needs a boolean, got ${t}`, e.column);
      }
      return e.op === 'not' ? 'boolean' : t === 'null' ? 'null' : t;
    }
    case 'binary':
      return checkBinary(e.op, check(e.left, schema, fields), check(e.right, schema, fields), e.column);
    case 'call': {
      const def = functions[e.name];
      if (!def) throw new ExpressionError(`unknown function ${e.name}(); known: ${functionNames.join(', ')}`, e.column);
      const [lo, hi] = def.arity;
      if (e.args.length < lo || e.args.length > hi) {
        const wanted = lo === hi ? `${lo}` : hi >= 64 ? `at least ${lo}` : `${lo} to ${hi}`;
        const noun = (lo === hi || hi >= 64) && lo === 1 ? 'argument' : 'arguments';
        throw new ExpressionError(`${e.name}() takes ${wanted} ${noun}, got ${e.args.length}`, e.column);
      }
      const argTypes = e.args.map((a) => check(a, schema, fields));
      try {
        return def.type(argTypes);
      } catch (err) {
        throw new ExpressionError((err as Error).message, e.column);
      }
    }
  }
}

function checkBinary(op: BinaryOp, l: ValueType, r: ValueType, column: number): ValueType {
  const both = `${l} ${op} ${r}`;
  switch (op) {
    case 'and':
    case 'or':
      for (const t of [l, r]) {
        if (!(t === 'boolean' || t === 'any' || t === 'null'))
          throw new ExpressionError(`"${op}" needs booleans, got ${both}`, column);
      }
      return 'boolean';
    case '==':
    case '!=':
      if (l !== r && ![l, r].some((t) => t === 'any' || t === 'null') && !(isNumeric(l) && isNumeric(r))) {
        throw new ExpressionError(`cannot compare ${l} with ${r}`, column);
      }
      return 'boolean';
    case '<':
    case '<=':
    case '>':
    case '>=':
      if (!((isNumeric(l) && isNumeric(r)) || (isText(l) && isText(r)))) {
        throw new ExpressionError(`"${op}" compares two numbers or two strings, got ${both}`, column);
      }
      return 'boolean';
    case '+':
      if (isText(l) && isText(r) && (l === 'string' || r === 'string')) return 'string';
      if (isNumeric(l) && isNumeric(r))
        return l === 'integer' && r === 'integer' ? 'integer' : l === 'any' || r === 'any' ? 'any' : 'number';
      throw new ExpressionError(`"+" adds two numbers or joins two strings, got ${both}`, column);
    default:
      if (!isNumeric(l) || !isNumeric(r)) throw new ExpressionError(`"${op}" needs numbers, got ${both}`, column);
      if (op === '/') return 'number';
      return l === 'integer' && r === 'integer' ? 'integer' : 'number';
  }
}

type Evaluate = (record: Record<string, unknown>) => Value;

function compile(e: Expr): Evaluate {
  switch (e.type) {
    case 'literal': {
      const v = e.value;
      return () => v;
    }
    case 'field': {
      const path = e.path;
      const name = path.join('.');
      if (path.length === 1) {
        const key = path[0] as string;
        return (record) => scalar(Object.hasOwn(record, key) ? record[key] : undefined, name);
      }
      return (record) => {
        let v: unknown = record;
        for (const p of path) {
          if (v === null || v === undefined) return null;
          if (typeof v !== 'object' || Array.isArray(v))
            throw new EvaluationError(`field "${name}": ${show(v)} has no field "${p}"`);
          v = Object.hasOwn(v, p) ? (v as Record<string, unknown>)[p] : undefined;
        }
        return scalar(v, name);
      };
    }
    case 'unary': {
      const operand = compile(e.operand);
      if (e.op === '-') {
        return (r) => {
          const v = operand(r);
          return v === null ? null : -expectNumber(v, '"-"');
        };
      }
      return (r) => {
        const v = operand(r);
        if (v === null) return null;
        if (typeof v !== 'boolean') throw new EvaluationError(`"not" needs a boolean, got ${show(v)}`);
        return !v;
      };
    }
    case 'binary':
      return compileBinary(e.op, compile(e.left), compile(e.right));
    case 'call': {
      const def = functions[e.name] as FunctionDef;
      const args = e.args.map(compile);
      if (e.name === 'coalesce') {
        // Lazy: later arguments are evaluated only when the earlier ones are null.
        return (r) => {
          for (const a of args) {
            const v = a(r);
            if (v !== null) return v;
          }
          return null;
        };
      }
      return (r) => def.call(args.map((a) => a(r)));
    }
  }
}

function scalar(v: unknown, name: string): Value {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new EvaluationError(`field "${name}" is not a finite number`);
    return v;
  }
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  throw new EvaluationError(`field "${name}" is ${Array.isArray(v) ? 'a list' : 'an object'}, not a value`);
}

function truth(v: Value, op: string): boolean | null {
  if (v === null || typeof v === 'boolean') return v;
  throw new EvaluationError(`"${op}" needs booleans, got ${show(v)}`);
}

function compileBinary(op: BinaryOp, left: Evaluate, right: Evaluate): Evaluate {
  switch (op) {
    case 'and':
      return (r) => {
        const a = truth(left(r), op);
        if (a === false) return false;
        const b = truth(right(r), op);
        return b === false ? false : a === null || b === null ? null : true;
      };
    case 'or':
      return (r) => {
        const a = truth(left(r), op);
        if (a === true) return true;
        const b = truth(right(r), op);
        return b === true ? true : a === null || b === null ? null : false;
      };
    case '==':
    case '!=':
      return (r) => {
        const a = left(r);
        const b = right(r);
        if (a === null || b === null) return null;
        if (typeof a !== typeof b) throw new EvaluationError(`cannot compare ${show(a)} with ${show(b)}`);
        return op === '==' ? a === b : a !== b;
      };
    case '<':
    case '<=':
    case '>':
    case '>=':
      return (r) => {
        const a = left(r);
        const b = right(r);
        if (a === null || b === null) return null;
        if (typeof a !== typeof b || typeof a === 'boolean') {
          throw new EvaluationError(`"${op}" compares two numbers or two strings, got ${show(a)} and ${show(b)}`);
        }
        const x = a as number | string;
        const y = b as number | string;
        return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
      };
    default:
      return (r) => {
        const a = left(r);
        const b = right(r);
        if (a === null || b === null) return null;
        if (op === '+' && typeof a === 'string' && typeof b === 'string') return a + b;
        const x = expectNumber(a, `"${op}"`);
        const y = expectNumber(b, `"${op}"`);
        if ((op === '/' || op === '%') && y === 0)
          throw new EvaluationError(`${op === '/' ? 'division' : 'remainder'} by zero`);
        const v = op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : op === '/' ? x / y : x % y;
        return finite(v, `"${op}"`);
      };
  }
}
