import fc from 'fast-check';

/** One generated request: the path (already encoded), a query string, and a body as sent. */
export interface FuzzInput {
  url: string;
  payload?: string;
  contentType?: string;
}

/** Values that have broken validators elsewhere: injections, credentials, escapes, edge numbers. */
const nasty = fc.constantFrom<unknown>(
  '',
  ' ',
  '--upload-pack=touch /tmp/x',
  'ext::sh -c touch% /tmp/x',
  'https://user:s3cret@git.example/m.git',
  'https://ghp_t0ken@github.com/a/b.git',
  '../../etc/passwd',
  '/etc/passwd',
  'file:///etc',
  'lifecycle/pm/k1',
  '__proto__',
  'constructor',
  'a'.repeat(5000),
  '\u0000',
  '\n',
  '%00',
  '😀',
  'ﬀ',
  '\u202e',
  -1,
  0,
  -0,
  1,
  0.5,
  1e308,
  -1e308,
  2 ** 53 + 1,
  4294967296,
  null,
  true,
  false,
  [],
  {},
  [null],
  { version: 1 },
);

const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 2, arbitrary: nasty },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** All paths to values inside a JSON template, the root included. */
function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  const out = [prefix];
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  }
  return out;
}

/** The template with the value at `at` replaced (or deleted when `replacement` is undefined). */
function mutate(template: unknown, at: string[], replacement: unknown): unknown {
  if (at.length === 0) return replacement;
  const copy = (Array.isArray(template) ? [...template] : { ...(template as object) }) as Record<string, unknown>;
  const [head, ...rest] = at as [string, ...string[]];
  // An array keeps only its indices in JSON; a generated key such as `length` would break the copy itself.
  if (Array.isArray(template) && !/^(0|[1-9][0-9]{0,5})$/.test(head)) return copy;
  if (rest.length === 0 && replacement === undefined) delete copy[head];
  else copy[head] = mutate(copy[head], rest, replacement);
  return copy;
}

/** Valid-looking bodies with one to three fields changed, deleted or added, so checks deep inside run too. */
export function mutatedBody(template: Json): fc.Arbitrary<unknown> {
  const paths = pathsOf(template);
  const change = fc.tuple(fc.nat(), fc.option(anyJson, { freq: 5 }), fc.boolean(), fc.string({ maxLength: 12 }));
  return fc.array(change, { minLength: 1, maxLength: 3 }).map((changes) => {
    let body: unknown = template;
    for (const [i, replacement, addKey, key] of changes) {
      const at = paths[i % paths.length]!;
      body = mutate(body, addKey ? [...at, key] : at, replacement ?? undefined);
    }
    return body;
  });
}

/** Text that is not the JSON it claims to be, or is JSON shaped to hurt parsers. */
const rawBodies: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue().map((v) => JSON.stringify(v).slice(0, -1)),
  fc.integer({ min: 1000, max: 200_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  fc
    .integer({ min: 1000, max: 100_000 })
    .map((n) => `{"model":"pm","params":{"x":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}}`),
  fc.constantFrom(
    '{"__proto__":{"isAdmin":true}}',
    '{"constructor":{"prototype":{"x":1}}}',
    '',
    'null',
    '"str"',
    '1e999',
  ),
);

/** A valid body with one value nested far too deep: it passes every schema that does not look inside. */
function deepBody(template: Json): fc.Arbitrary<string> {
  const paths = pathsOf(template).filter((p) => p.length > 0);
  return fc.tuple(fc.nat(), fc.integer({ min: 30, max: 50_000 }), fc.boolean()).map(([i, depth, arrays]) => {
    const placeholder = 'fuzz-deep-value-here';
    const text = JSON.stringify(mutate(template, paths[i % paths.length]!, placeholder));
    const deep = arrays ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    return text.replace(JSON.stringify(placeholder), deep);
  });
}

/** A JSON route's body: mutated valid bodies, any JSON, raw text, or the wrong content type. */
export function jsonBodies(template: Json): fc.Arbitrary<Omit<FuzzInput, 'url'>> {
  return fc.oneof(
    {
      weight: 5,
      arbitrary: mutatedBody(template).map((b) => ({ payload: JSON.stringify(b), contentType: 'application/json' })),
    },
    { weight: 1, arbitrary: deepBody(template).map((payload) => ({ payload, contentType: 'application/json' })) },
    {
      weight: 2,
      arbitrary: anyJson.map((b) => ({ payload: JSON.stringify(b) ?? 'null', contentType: 'application/json' })),
    },
    { weight: 2, arbitrary: rawBodies.map((payload) => ({ payload, contentType: 'application/json' })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data',
            'application/json; charset=utf-16',
            'x/y',
          ),
          rawBodies,
        )
        .map(([contentType, payload]) => ({ payload, contentType })),
    },
    { weight: 1, arbitrary: fc.constant({}) },
  );
}

/** A path segment: ordinary names, nasty values, any text (percent-encoded), or encodings gone wrong. */
export const segment: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/) },
  { weight: 2, arbitrary: nasty.map((v) => encodeURIComponent(String(v))) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map(encodeURIComponent) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('%', '%zz', '%c0%af', '..', '.', '%2e%2e', '%2F', 'a%00b', '~', '*', 'a'.repeat(3000)),
  },
);

/** A query string: absent, known names with any value, or unknown names. */
export function query(names: string[]): fc.Arbitrary<string> {
  const pair = fc.tuple(
    fc.oneof(fc.constantFrom(...names), segment),
    fc.oneof(
      segment,
      nasty.map((v) => encodeURIComponent(String(v))),
    ),
  );
  return fc
    .option(fc.array(pair, { minLength: 1, maxLength: 3 }), { freq: 3 })
    .map((pairs) => (pairs ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));
}

/** Any bytes to send along with a bodiless request. */
export const strayBody: fc.Arbitrary<Omit<FuzzInput, 'url'>> = fc
  .option(jsonBodies({ x: 1 }), { freq: 4 })
  .map((b) => b ?? {});
