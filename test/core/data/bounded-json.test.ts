import { describe, expect, it } from 'vitest';
import { nestsDeeperThan, parseJsonObject } from '../../../core/data/bounded-json';

describe('JSON records with bounded nesting', () => {
  const nested = (levels: number): string => `{"a":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;

  it('counts arrays and objects, not brackets inside strings or after escaped quotes', () => {
    expect(nestsDeeperThan(nested(64), 64)).toBe(false);
    expect(nestsDeeperThan(nested(65), 64)).toBe(true);
    expect(nestsDeeperThan(JSON.stringify({ s: '[{'.repeat(1000) }), 2)).toBe(false);
    expect(nestsDeeperThan(JSON.stringify({ s: 'q"[[[\\' }), 1)).toBe(false);
    expect(nestsDeeperThan('', 0)).toBe(false);
    expect(nestsDeeperThan('1', 0)).toBe(false);
  });

  it('parses objects and names why anything else is not a record', () => {
    expect(parseJsonObject('{"x":1}')).toEqual({ ok: true, value: { x: 1 } });
    expect(parseJsonObject(nested(64)).ok).toBe(true);
    for (const text of ['', 'nope', '[1]', 'null', '3', '"s"', '{"a":']) {
      expect(parseJsonObject(text)).toEqual({ ok: false, reason: 'not a JSON object' });
    }
    expect(parseJsonObject(nested(100_000))).toEqual({ ok: false, reason: 'nested more than 64 levels deep' });
  });
});
