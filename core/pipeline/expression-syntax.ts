/**
 * The syntax of pipeline expressions (`filter.where`, `map.set`, `project.fields`): a tokenizer
 * and a Pratt parser to an AST. Nothing here evaluates; see expression.ts.
 *
 *   temperature_c > 80 and (vibration_mm_s * 2 >= 9 or not ok)
 *   coalesce(rpm, 0) / 60      machine.site == 'north'      `odd-name` + 1
 */

/** A problem in an expression, with the 1-based column where it starts. */
export class ExpressionError extends Error {
  constructor(
    readonly reason: string,
    readonly column: number,
  ) {
    super(`column ${column}: ${reason}`);
    this.name = 'ExpressionError';
  }
}

export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '==' | '!=' | '<' | '<=' | '>' | '>=' | 'and' | 'or';

export type Expr =
  | { type: 'literal'; value: number | string | boolean | null; column: number }
  | { type: 'field'; path: string[]; column: number }
  | { type: 'unary'; op: '-' | 'not'; operand: Expr; column: number }
  | { type: 'binary'; op: BinaryOp; left: Expr; right: Expr; column: number }
  | { type: 'call'; name: string; args: Expr[]; column: number };

type Token =
  | { kind: 'number'; value: number; column: number; text: string }
  | { kind: 'string'; value: string; column: number; text: string }
  | { kind: 'name'; value: string; column: number; text: string; quoted: boolean }
  | { kind: 'op'; value: string; column: number; text: string }
  | { kind: 'end'; column: number; text: string };

const keywords = new Set(['and', 'or', 'not', 'true', 'false', 'null']);
const twoCharOps = new Set(['==', '!=', '<=', '>=']);
const oneCharOps = new Set(['+', '-', '*', '/', '%', '<', '>', '(', ')', ',', '.']);
const maxLength = 10_000;

export function tokenize(source: string): Token[] {
  if (source.length > maxLength) throw new ExpressionError(`expression longer than ${maxLength} characters`, 1);
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    const column = i + 1;
    if (/\s/.test(c)) {
      i++;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(source[i + 1] ?? ''))) {
      const m = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/.exec(source.slice(i)) as RegExpExecArray;
      const text = m[0];
      if (/[A-Za-z_]/.test(source[i + text.length] ?? '')) {
        throw new ExpressionError(`malformed number "${text}${source[i + text.length]}"`, column);
      }
      const value = Number(text);
      if (!Number.isFinite(value)) throw new ExpressionError(`number ${text} is too large`, column);
      tokens.push({ kind: 'number', value, column, text });
      i += text.length;
    } else if (c === "'" || c === '"') {
      const { value, end } = readQuoted(source, i, c, 'string');
      tokens.push({ kind: 'string', value, column, text: source.slice(i, end) });
      i = end;
    } else if (c === '`') {
      const { value, end } = readQuoted(source, i, c, 'quoted field name');
      if (value === '') throw new ExpressionError('empty quoted field name', column);
      tokens.push({ kind: 'name', value, column, text: source.slice(i, end), quoted: true });
      i = end;
    } else if (/[A-Za-z_]/.test(c)) {
      const text = (/^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i)) as RegExpExecArray)[0];
      tokens.push({ kind: 'name', value: text, column, text, quoted: false });
      i += text.length;
    } else if (twoCharOps.has(source.slice(i, i + 2))) {
      const text = source.slice(i, i + 2);
      tokens.push({ kind: 'op', value: text, column, text });
      i += 2;
    } else if (oneCharOps.has(c)) {
      tokens.push({ kind: 'op', value: c, column, text: c });
      i++;
    } else if (c === '=' || c === '!' || c === '&' || c === '|') {
      const hint = { '=': '==', '!': 'not', '&': 'and', '|': 'or' }[c];
      throw new ExpressionError(`unexpected "${c}"; did you mean "${hint}"?`, column);
    } else {
      throw new ExpressionError(`unexpected character ${JSON.stringify(c)}`, column);
    }
  }
  tokens.push({ kind: 'end', column: source.length + 1, text: 'end of expression' });
  return tokens;
}

function readQuoted(source: string, start: number, quote: string, what: string): { value: string; end: number } {
  let value = '';
  let i = start + 1;
  while (i < source.length) {
    const c = source[i] as string;
    if (c === quote) return { value, end: i + 1 };
    if (c === '\\') {
      const next = source[i + 1];
      if (next === undefined) break;
      const escaped = ({ n: '\n', t: '\t', '\\': '\\', "'": "'", '"': '"', '`': '`' } as Record<string, string>)[next];
      if (escaped === undefined) throw new ExpressionError(`unknown escape "\\${next}" in ${what}`, i + 1);
      value += escaped;
      i += 2;
    } else {
      value += c;
      i++;
    }
  }
  throw new ExpressionError(`unterminated ${what}`, start + 1);
}

// Binding powers: higher binds tighter. Comparisons do not chain (`a < b < c` is an error).
const infix: Record<string, { power: number; op: BinaryOp }> = {
  or: { power: 1, op: 'or' },
  and: { power: 2, op: 'and' },
  '==': { power: 4, op: '==' },
  '!=': { power: 4, op: '!=' },
  '<': { power: 4, op: '<' },
  '<=': { power: 4, op: '<=' },
  '>': { power: 4, op: '>' },
  '>=': { power: 4, op: '>=' },
  '+': { power: 5, op: '+' },
  '-': { power: 5, op: '-' },
  '*': { power: 6, op: '*' },
  '/': { power: 6, op: '/' },
  '%': { power: 6, op: '%' },
};
const notPower = 3;
const negatePower = 7;
const comparisonPower = 4;
const maxDepth = 200;

const describe = (t: Token): string => (t.kind === 'end' ? 'the end of the expression' : `"${t.text}"`);

/** Parses one expression; throws `ExpressionError` naming the column of the first problem. */
export function parseExpression(source: string): Expr {
  const tokens = tokenize(source);
  let pos = 0;
  let depth = 0;
  const peek = (): Token => tokens[pos] as Token;
  const next = (): Token => tokens[pos++] as Token;
  const isOp = (t: Token, value: string): boolean => t.kind === 'op' && t.value === value;
  const expect = (value: string, what: string): void => {
    const t = next();
    if (!isOp(t, value)) throw new ExpressionError(`expected "${value}" ${what}, found ${describe(t)}`, t.column);
  };

  const infixOf = (t: Token): { power: number; op: BinaryOp } | undefined => {
    if (t.kind === 'op') return infix[t.value];
    if (t.kind === 'name' && !t.quoted && (t.value === 'and' || t.value === 'or')) return infix[t.value];
    return undefined;
  };

  function expression(minPower: number): Expr {
    if (++depth > maxDepth)
      throw new ExpressionError(`expression nested deeper than ${maxDepth} levels`, peek().column);
    let left = prefix();
    for (;;) {
      const t = peek();
      const info = infixOf(t);
      if (!info || info.power <= minPower) break;
      next();
      const right = expression(info.power);
      if (info.power === comparisonPower) {
        const after = infixOf(peek());
        if (after?.power === comparisonPower) {
          throw new ExpressionError(`comparisons do not chain; use "and" between them`, peek().column);
        }
      }
      left = { type: 'binary', op: info.op, left, right, column: t.column };
    }
    depth--;
    return left;
  }

  function prefix(): Expr {
    const t = next();
    if (t.kind === 'number' || t.kind === 'string') return { type: 'literal', value: t.value, column: t.column };
    if (isOp(t, '-')) return { type: 'unary', op: '-', operand: expression(negatePower), column: t.column };
    if (isOp(t, '(')) {
      const inner = expression(0);
      expect(')', `to close the "(" at column ${t.column}`);
      return inner;
    }
    if (t.kind === 'name') return t.quoted ? fieldPath(t.value, t.column) : name(t);
    throw new ExpressionError(`expected a value, found ${describe(t)}`, t.column);
  }

  function name(t: Token & { kind: 'name' }): Expr {
    switch (t.value) {
      case 'true':
      case 'false':
        return { type: 'literal', value: t.value === 'true', column: t.column };
      case 'null':
        return { type: 'literal', value: null, column: t.column };
      case 'not':
        return { type: 'unary', op: 'not', operand: expression(notPower), column: t.column };
      case 'and':
      case 'or':
        throw new ExpressionError(`expected a value before "${t.value}"`, t.column);
    }
    if (isOp(peek(), '(')) {
      next();
      const args: Expr[] = [];
      if (!isOp(peek(), ')')) {
        for (;;) {
          args.push(expression(0));
          if (!isOp(peek(), ',')) break;
          next();
        }
      }
      expect(')', `to close the call of ${t.value}() at column ${t.column}`);
      return { type: 'call', name: t.value, args, column: t.column };
    }
    return fieldPath(t.value, t.column);
  }

  function fieldPath(first: string, column: number): Expr {
    const path = [first];
    while (isOp(peek(), '.')) {
      next();
      const part = next();
      if (part.kind !== 'name' || (!part.quoted && keywords.has(part.value))) {
        throw new ExpressionError(`expected a field name after ".", found ${describe(part)}`, part.column);
      }
      path.push(part.value);
    }
    return { type: 'field', path, column };
  }

  const ast = expression(0);
  const rest = peek();
  if (rest.kind !== 'end') {
    const hint =
      rest.kind === 'name' || rest.kind === 'number' || rest.kind === 'string' ? ' (missing an operator?)' : '';
    throw new ExpressionError(`unexpected ${describe(rest)}${hint}`, rest.column);
  }
  return ast;
}
