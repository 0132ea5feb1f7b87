import { describe, expect, it } from 'vitest';
import { compileExpression, EvaluationError, ExpressionError, functionNames } from '../../../core/pipeline/expression';
import { parseExpression } from '../../../core/pipeline/expression-syntax';
import type { FieldSchema } from '../../../core/pipeline/fields';

const schema: FieldSchema = { t: 'number', n: 'integer', s: 'string', ok: 'boolean', meta: 'any', odd: 'number' };
const run = (source: string, record: Record<string, unknown>, fields: FieldSchema = schema): unknown =>
  compileExpression(source, fields).evaluate(record);
const problem = (source: string, fields: FieldSchema = schema): { column: number; reason: string } => {
  try {
    compileExpression(source, fields);
  } catch (err) {
    expect(err).toBeInstanceOf(ExpressionError);
    const e = err as ExpressionError;
    return { column: e.column, reason: e.reason };
  }
  throw new Error(`${source} compiled`);
};

describe('expression syntax', () => {
  it('binds arithmetic tighter than comparison, comparison tighter than not, and, or', () => {
    const ast = parseExpression('a + b * 2 > 3 or not c and d');
    expect(ast).toMatchObject({ type: 'binary', op: 'or', right: { op: 'and', left: { type: 'unary', op: 'not' } } });
    expect(ast).toMatchObject({ left: { op: '>', left: { op: '+', right: { op: '*' } } } });
  });

  it('is left-associative for - and /', () => {
    expect(run('10 - 4 - 3', {})).toBe(3);
    expect(run('24 / 4 / 2', {})).toBe(3);
    expect(run('-2 * 3', {})).toBe(-6);
    expect(run('2 - -3', {})).toBe(5);
  });

  it('reads numbers, strings with escapes, quoted field names and dotted paths', () => {
    expect(run('1.5e3 + .5', {})).toBe(1500.5);
    expect(run(`'it\\'s' + "\\t"`, {})).toBe("it's\t");
    expect(run('`odd` * 2', { odd: 4 })).toBe(8);
    expect(run('meta.site.name', { meta: { site: { name: 'north' } } })).toBe('north');
  });

  it('names the column of each syntax problem', () => {
    expect(problem('t > ')).toEqual({ column: 5, reason: 'expected a value, found the end of the expression' });
    expect(problem('(t + 1')).toEqual({
      column: 7,
      reason: 'expected ")" to close the "(" at column 1, found the end of the expression',
    });
    expect(problem('t = 1')).toEqual({ column: 3, reason: 'unexpected "="; did you mean "=="?' });
    expect(problem('t 1')).toEqual({ column: 3, reason: 'unexpected "1" (missing an operator?)' });
    expect(problem("s == 'abc")).toEqual({ column: 6, reason: 'unterminated string' });
    expect(problem('1 < t < 3')).toMatchObject({
      column: 7,
      reason: 'comparisons do not chain; use "and" between them',
    });
    expect(problem('t # 2')).toMatchObject({ column: 3 });
    expect(problem('12abc')).toMatchObject({ column: 1, reason: 'malformed number "12a"' });
    expect(problem('1e999')).toMatchObject({ column: 1, reason: 'number 1e999 is too large' });
    expect(problem('max(t,')).toMatchObject({ column: 7 });
    expect(problem('and t')).toMatchObject({ column: 1 });
    expect(problem('meta.')).toMatchObject({ column: 6 });
  });

  it('refuses expressions nested too deep instead of overflowing the stack', () => {
    expect(problem(`${'('.repeat(300)}1${')'.repeat(300)}`).reason).toContain('nested deeper than');
  });
});

describe('expression types', () => {
  it('names unknown fields with the fields there are', () => {
    expect(problem('temprature > 1', { temperature: 'number' })).toEqual({
      column: 1,
      reason: 'unknown field "temprature"; the input has temperature',
    });
  });

  it('refuses operands of the wrong type, at the operator', () => {
    expect(problem('s + 1')).toEqual({
      column: 3,
      reason: '"+" adds two numbers or joins two strings, got string + integer',
    });
    expect(problem('t and ok')).toMatchObject({ column: 3, reason: expect.stringContaining('needs booleans') });
    expect(problem('s < 3')).toMatchObject({ column: 3 });
    expect(problem('ok == 1')).toEqual({ column: 4, reason: 'cannot compare boolean with integer' });
    expect(problem('not t')).toMatchObject({ column: 1 });
    expect(problem('-s')).toMatchObject({ column: 1 });
    expect(problem('t.x')).toEqual({ column: 1, reason: 'field "t" is a number, it has no field "x"' });
  });

  it('checks function names, arity and argument types', () => {
    expect(problem('sine(t)')).toEqual({
      column: 1,
      reason: `unknown function sine(); known: ${functionNames.join(', ')}`,
    });
    expect(problem('abs(t, 2)')).toEqual({ column: 1, reason: 'abs() takes 1 argument, got 2' });
    expect(problem('max()')).toEqual({ column: 1, reason: 'max() takes at least 1 argument, got 0' });
    expect(problem('t + abs(s)')).toEqual({ column: 5, reason: 'abs() takes numbers, argument 1 is string' });
    expect(problem('coalesce(s, 1)')).toMatchObject({
      column: 1,
      reason: 'coalesce() arguments must have one type, got string, integer',
    });
  });

  it('infers result types', () => {
    expect(compileExpression('n + 1', schema).type).toBe('integer');
    expect(compileExpression('n / 2', schema).type).toBe('number');
    expect(compileExpression('t > 1 and ok', schema).type).toBe('boolean');
    expect(compileExpression("concat(s, '-', n)", schema).type).toBe('string');
    expect(compileExpression('coalesce(null, n, t)', schema).type).toBe('number');
    expect(compileExpression('meta.x', schema).type).toBe('any');
    expect(compileExpression('t + n', schema).fields.sort()).toEqual(['n', 't']);
  });
});

describe('expression values', () => {
  it('computes arithmetic, comparisons and logic', () => {
    const r = { t: 81.5, n: 7, s: 'M-1', ok: true };
    expect(run('t > 80 and n % 2 == 1', r)).toBe(true);
    expect(run("s == 'M-1' or t < 0", r)).toBe(true);
    expect(run('not ok', r)).toBe(false);
    expect(run("lower(s) + '/' + upper('x')", r)).toBe('m-1/X');
    expect(run('round(t / 3, 2)', r)).toBe(27.17);
    expect(run('min(t, n, 100) + max(1, 2) + abs(-n) + floor(t) + ceil(0.2) + sqrt(16)', r)).toBe(
      7 + 2 + 7 + 81 + 1 + 4,
    );
  });

  it('propagates null through arithmetic and comparisons, with three-valued logic', () => {
    expect(run('t + 1', { t: null })).toBeNull();
    expect(run('t > 1', { t: null })).toBeNull();
    expect(run('t > 1 and false', { t: null })).toBe(false);
    expect(run('t > 1 or true', { t: null })).toBe(true);
    expect(run('t > 1 and true', { t: null })).toBeNull();
    expect(run('coalesce(t, n, 0)', { t: null, n: 3 })).toBe(3);
    expect(run('coalesce(t, 1 / n)', { t: 2, n: 0 })).toBe(2);
    expect(run('meta.a.b', { meta: { a: null } })).toBeNull();
  });

  it('refuses division by zero and non-finite results rather than passing Infinity on', () => {
    expect(() => run('t / n', { t: 1, n: 0 })).toThrow(new EvaluationError('division by zero'));
    expect(() => run('n % 0', { n: 1 })).toThrow('remainder by zero');
    expect(() => run('t * t', { t: 1e200 })).toThrow('"*" gives a non-finite result');
    expect(() => run('sqrt(t)', { t: -1 })).toThrow('sqrt() of the negative number -1');
    expect(() => run('round(t, n)', { t: 1, n: 99 })).toThrow('digits must be an integer from 0 to 15');
  });

  it('checks value types at run time where the schema says any', () => {
    expect(() => run('meta + 1', { meta: 'x' })).toThrow('"+" needs a number, got "x"');
    expect(() => run('meta > 1', { meta: true })).toThrow('compares two numbers or two strings');
    expect(() => run('meta == 1', { meta: '1' })).toThrow('cannot compare "1" with 1');
    expect(() => run('meta', { meta: [1] })).toThrow('field "meta" is a list, not a value');
    expect(() => run('meta.x', { meta: 3 })).toThrow('field "meta.x": 3 has no field "x"');
  });

  it('reads own fields only, never the prototype chain', () => {
    expect(run('coalesce(constructor, 1)', {}, { constructor: 'any' } as FieldSchema)).toBe(1);
    expect(run('meta.toString', { meta: {} })).toBeNull();
  });
});
