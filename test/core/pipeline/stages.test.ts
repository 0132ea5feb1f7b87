import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../../core/kafka/adapter';
import { appendFields, createStage } from '../../../core/pipeline/stages';
import type { TransformSpec } from '../../../core/pipeline/spec';

const record = (value: string, offset = 0): ConsumedRecord => ({
  topic: 'in',
  partition: 0,
  offset: String(offset),
  timestamp: '0',
  key: 'k',
  value,
  headers: {},
});

describe('appendFields', () => {
  it("writes the input's own text with the fields after its own", () => {
    const text = '{"a":1.50,"b":"x"}';
    expect(appendFields(text, JSON.parse(text), { p: 1, q: 0.25 })).toBe('{"a":1.50,"b":"x","p":1,"q":0.25}');
    expect(appendFields('{ }\n', {}, { p: 'yes' })).toBe('{ "p":"yes"}');
    expect(appendFields(' {"a":[1,{"}":2}]}  ', { a: [1, { '}': 2 }] }, { 'odd "name"': null })).toBe(
      ' {"a":[1,{"}":2}],"odd \\"name\\"":null}',
    );
  });

  it('leaves out fields without a JSON value and writes non-finite numbers as null, as JSON.stringify does', () => {
    expect(appendFields('{"a":1}', { a: 1 }, { u: undefined, n: NaN, i: -Infinity })).toBe('{"a":1,"n":null,"i":null}');
  });

  it('gives way (null) when the row has the field already, so it is replaced in place by serialising', () => {
    expect(appendFields('{"p":0,"a":1}', { p: 0, a: 1 }, { p: 1 })).toBeNull();
    expect(appendFields('{"a":1} x', { a: 1 }, { p: 1 })).toBeNull();
  });

  it('always parses to the value JSON.stringify({ ...row, ...fields }) gives', () => {
    const name = fc.string({ maxLength: 6 });
    const value = fc.oneof(fc.double(), fc.string(), fc.boolean(), fc.constant(null), fc.integer());
    fc.assert(
      fc.property(
        fc.dictionary(name, fc.jsonValue()),
        fc.dictionary(name, value),
        fc.constantFrom('', ' ', '\n\t'),
        (row, fields, pad) => {
          const text = JSON.stringify(row, null, pad.length > 1 ? 1 : undefined) + pad;
          const parsed = JSON.parse(text) as Record<string, unknown>;
          const appended = appendFields(text, parsed, fields);
          const expected = JSON.parse(JSON.stringify({ ...parsed, ...fields })) as unknown;
          if (appended === null) expect(Object.keys(fields).some((f) => Object.hasOwn(parsed, f))).toBe(true);
          else expect(JSON.parse(appended)).toEqual(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('map stage output', () => {
  const fields = { t: 'number', v: 'number' } as const;
  const run = async (t: Partial<TransformSpec>, values: string[]): Promise<string[]> => {
    const stage = createStage({ name: 'm', input: 'in', output: 'out', kind: 'map', ...t } as TransformSpec, {
      kafka: null as never,
      inputFields: fields,
      changelogTopic: 'c',
    });
    const r = await stage.process(
      { topic: 'in', partition: 0, records: values.map(record), highWatermark: '0' },
      new AbortController().signal,
    );
    return r.outputs.map((o) => o.value);
  };

  it('adds set fields to the input text, and serialises when it renames, drops or replaces a field', async () => {
    const input = ['{"t":90.50,"v":2,"extra":"kept"}'];
    expect(await run({ set: { heat: 't * v', hot: 't > 80' } }, input)).toEqual([
      '{"t":90.50,"v":2,"extra":"kept","heat":181,"hot":true}',
    ]);
    expect(await run({ set: { t: 't + 1' } }, input)).toEqual(['{"t":91.5,"v":2,"extra":"kept"}']);
    expect(await run({ set: { heat: 't * v' }, drop: ['extra'] }, input)).toEqual(['{"t":90.5,"v":2,"heat":181}']);
    expect(await run({ rename: { extra: 'note' } }, input)).toEqual(['{"t":90.5,"v":2,"note":"kept"}']);
  });
});

describe('record stage dead letters', () => {
  it(
    'dead-letters unparsable, mistyped and unevaluable records with their reasons, ' + 'in a batch that goes on',
    async () => {
      const stage = createStage(
        { name: 'm', input: 'in', output: 'out', kind: 'map', set: { r: 't / v' } } as TransformSpec,
        { kafka: null as never, inputFields: { t: 'number', v: 'number' }, changelogTopic: 'c' },
      );
      const values = ['{"t":1,"v":2}', 'not json', '[1]', '{"t":"hot","v":1}', '{"t":1,"v":0}', '{"t":3,"v":4}'];
      const r = await stage.process(
        { topic: 'in', partition: 0, records: values.map((v, i) => record(v, i)), highWatermark: '6' },
        new AbortController().signal,
      );
      expect(r.outputs.map((o) => o.value)).toEqual(['{"t":1,"v":2,"r":0.5}', '{"t":3,"v":4,"r":0.75}']);
      expect(r.dead.map((d) => [d.value, d.headers?.['mloop-source-offset'], d.headers?.['mloop-reason']])).toEqual([
        ['not json', '1', 'not valid JSON'],
        ['[1]', '2', 'not a JSON object'],
        ['{"t":"hot","v":1}', '3', 'field "t" is "hot", not a number'],
        ['{"t":1,"v":0}', '4', 'division by zero'],
      ]);
      expect(r.processed).toBe(6);
    },
  );
});
