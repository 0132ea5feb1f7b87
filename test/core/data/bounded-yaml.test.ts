import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { maxYamlDepth, yamlDepthProblem, yamlNestsDeeperThan } from '../../../core/data/bounded-yaml';

const example = fs.readFileSync(
  path.resolve(import.meta.dirname, '../../../examples/predictive-maintenance/pipeline.yaml'),
  'utf8',
);

describe('YAML nesting bound', () => {
  it('finds the line of texts that nest deeper than the limit, however deep, without recursing', () => {
    expect(yamlNestsDeeperThan(`a: 1\nb: ${'['.repeat(117_000)}${']'.repeat(117_000)}\n`, 64)).toBe(2);
    expect(yamlNestsDeeperThan(`${'- '.repeat(100_000)}x`, 64)).toBe(1);
    expect(yamlNestsDeeperThan(`${'{a: '.repeat(40)}1${'}'.repeat(40)}`, 64)).toBe(1);
    // Indentation alone: a mapping one column deeper on each line.
    const stairs = Array.from({ length: 200 }, (_, i) => `${' '.repeat(i)}k:`).join('\n');
    expect(yamlNestsDeeperThan(`${stairs} 1`, 64)).toBe(65);
  });

  it('passes ordinary specs, and does not count brackets inside scalars', () => {
    expect(yamlNestsDeeperThan(example, maxYamlDepth)).toBeNull();
    const text = [
      'quoted: "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["',
      "single: '{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{'",
      'plain: it is [fine',
      'block: |',
      `  ${'['.repeat(100)}`,
      `  ${'- '.repeat(100)}`,
      'after: [1, [2, [3]]]',
    ].join('\n');
    expect(yamlNestsDeeperThan(text, 8)).toBeNull();
  });

  it('counts lines across multi-line scalars, so the error names the right line', () => {
    const text = ['a: |', '  one', '  two', 'b: "x', '  y"', `c: ${'['.repeat(70)}`].join('\n');
    expect(yamlNestsDeeperThan(text, 64)).toBe(6);
    expect(yamlDepthProblem(text)).toBe('line 6 nests more than 64 levels deep (brackets, indentation and indicators)');
  });
});
