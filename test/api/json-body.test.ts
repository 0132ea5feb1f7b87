import { describe, expect, it } from 'vitest';
import { nestingDepth } from '../../api/json-body';

describe('JSON nesting depth', () => {
  it.each([
    ['1', 0],
    ['{}', 1],
    ['[[], [[]]]', 3],
    ['{"a": {"b": [1, {"c": 2}]}}', 4],
    ['{"s": "[[[[{{{{"}', 1],
    ['{"s": "\\\\"}', 1],
    ['{"s": "\\"[[["}', 1],
    ['["\\\\\\"[", [1]]', 2],
    [']]]][', 1],
  ])('of %s is %i', (text, depth) => {
    expect(nestingDepth(text)).toBe(depth);
  });

  it('stops counting once past the limit, and never recurses', () => {
    const deep = `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`;
    expect(nestingDepth(deep)).toBe(1_000_000);
    expect(nestingDepth(deep, 32)).toBe(33);
  });
});
