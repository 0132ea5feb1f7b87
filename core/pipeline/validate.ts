import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { maxJsonDepth, nestsDeeperThan } from '../data/bounded-json';
import { yamlDepthProblem } from '../data/bounded-yaml';
import { MloopError } from '../errors';
import type { FeatureSpec } from '../serving/kserve-client';
import { fits, type FieldSchema } from './fields';
import {
  defaultDeadLetterTopic,
  PipelineEnvelopeSchema,
  sinkKinds,
  sinkSchemas,
  sourceKinds,
  sourceSchemas,
  TopicSpecSchema,
  transformKinds,
  transformSchemas,
  type ModelTransform,
  type PipelineSpec,
  type SinkSpec,
  type SourceSpec,
  type TopicSpec,
  type TransformSpec,
} from './spec';
import { sourceFields, transformOutput } from './transform-fields';

/**
 * Validation of a pipeline spec before anything runs: structure, names, topics and their
 * producers, cycles, and fields from stage to stage (a model transform's inputs against its
 * model's features). Pure: the caller passes what it knows about the models. Every problem
 * names its place in the spec, e.g. `transforms[2].input`.
 */
export interface SpecProblem {
  path: string;
  message: string;
}

export interface ValidationContext {
  /** Feature lists of the models the spec scores with, by `modelRefKey`. */
  models?: Record<string, readonly FeatureSpec[]>;
}

export interface ValidatedPipeline {
  spec: PipelineSpec;
  guarantee: 'at-least-once' | 'exactly-once';
  deadLetterTopic: string;
  /** Every topic the pipeline creates, the dead-letter topic included. */
  topics: TopicSpec[];
  /** Transforms in an order where each comes after the producers of its input. */
  order: string[];
  /** The fields of each topic (the dead-letter topic's records are whatever failed). */
  fields: Record<string, FieldSchema>;
}

export type ValidationResult = { ok: true; pipeline: ValidatedPipeline } | { ok: false; problems: SpecProblem[] };

export const modelRefKey = (t: Pick<ModelTransform, 'model' | 'environment' | 'version'>): string =>
  t.version !== undefined ? `${t.model}#${t.version}` : `${t.model}@${t.environment ?? ''}`;

/** The models a spec scores with, so a caller can look up their features before validating. */
export function modelRefs(
  spec: unknown,
): Array<{ key: string; model: string; environment?: string; version?: number }> {
  const transforms = isRecord(spec) && Array.isArray(spec.transforms) ? spec.transforms : [];
  return transforms
    .filter((t): t is ModelTransform => isRecord(t) && t.kind === 'model' && typeof t.model === 'string')
    .map((t) => ({
      key: modelRefKey(t),
      model: t.model,
      ...(t.environment !== undefined ? { environment: t.environment } : {}),
      ...(t.version !== undefined ? { version: t.version } : {}),
    }));
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Reads a spec from YAML or JSON text; a syntax error names its line and column. */
export function parsePipelineText(text: string): unknown {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    // Everything after the parse (validation, hashing, Temporal's payloads) recurses on the value.
    if (nestsDeeperThan(text, maxJsonDepth)) {
      throw new MloopError('InvalidInput', `pipeline spec: nested more than ${maxJsonDepth} levels deep`, {
        field: 'spec',
      });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new MloopError('InvalidInput', `pipeline spec: not valid JSON: ${(err as Error).message}`, {
        field: 'spec',
      });
    }
  }
  const tooDeep = yamlDepthProblem(text);
  if (tooDeep) throw new MloopError('InvalidInput', `pipeline spec: ${tooDeep}`, { field: 'spec' });
  try {
    return parseYaml(text, { prettyErrors: true, uniqueKeys: true }) as unknown;
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const where = err.linePos?.[0] ? `line ${err.linePos[0].line}, column ${err.linePos[0].col}: ` : '';
      throw new MloopError('InvalidInput', `pipeline spec: ${where}${err.message.split('\n')[0]}`, { field: 'spec' });
    }
    throw err;
  }
}

/** Validates, throwing one `InvalidInput` that lists every problem (details.problems). */
export function assertValidPipeline(input: unknown, ctx: ValidationContext = {}): ValidatedPipeline {
  const result = validatePipeline(input, ctx);
  if (result.ok) return result.pipeline;
  const listed = result.problems.map((p) => `${p.path}: ${p.message}`);
  throw new MloopError('InvalidInput', `invalid pipeline spec: ${listed.join('; ')}`, {
    field: result.problems[0]?.path,
    problems: result.problems,
  });
}

export function validatePipeline(input: unknown, ctx: ValidationContext = {}): ValidationResult {
  const problems: SpecProblem[] = [];
  if (!isRecord(input))
    return { ok: false, problems: [{ path: '(spec)', message: 'must be an object with name, topics and transforms' }] };
  structural(PipelineEnvelopeSchema, input, '', problems);
  const topics = listOf(input.topics, 'topics', problems, () => TopicSpecSchema);
  const sources = listOf(input.sources, 'sources', problems, (item, at) =>
    byKind(item, at, sourceSchemas, sourceKinds, 'source', problems),
  );
  const transforms = listOf(input.transforms, 'transforms', problems, (item, at) =>
    byKind(item, at, transformSchemas, transformKinds, 'transform', problems),
  );
  const sinks = listOf(input.sinks, 'sinks', problems, (item, at) =>
    byKind(item, at, sinkSchemas, sinkKinds, 'sink', problems),
  );
  // Fields and graph checks need well-formed parts: stop at structural problems.
  if (problems.length > 0) return { ok: false, problems };

  const spec = input as unknown as PipelineSpec;
  const checked = semantic(
    spec,
    topics as TopicSpec[],
    sources as SourceSpec[],
    transforms as TransformSpec[],
    sinks as SinkSpec[],
    ctx,
  );
  return checked.problems.length > 0
    ? { ok: false, problems: checked.problems }
    : { ok: true, pipeline: checked.pipeline as ValidatedPipeline };
}

/** JSON pointer `/transforms/2/input` → `transforms[2].input`. */
function specPath(prefix: string, pointer: string): string {
  let out = prefix;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out || '(spec)';
}

function structural(schema: TSchema, value: unknown, prefix: string, problems: SpecProblem[]): void {
  const seen = new Set<string>();
  for (const e of Value.Errors(schema, value)) {
    const path = specPath(prefix, e.path);
    if (seen.has(path)) continue;
    // A union's members report their own errors under the same path; the union's message says it better.
    seen.add(path);
    const custom = (e.schema as { errorMessage?: string }).errorMessage;
    let message = custom ?? e.message;
    if (e.message === 'Expected required property') message = 'is required';
    else if (e.message === 'Unexpected property') message = 'is not a known property here';
    problems.push({ path, message: lowerFirst(message) });
  }
}

const lowerFirst = (s: string): string => (s ? s[0]?.toLowerCase() + s.slice(1) : s);

function listOf(
  value: unknown,
  name: string,
  problems: SpecProblem[],
  schemaFor: (item: Record<string, unknown>, at: string) => TSchema | null,
): unknown[] {
  if (value === undefined || !Array.isArray(value)) return [];
  value.forEach((item, i) => {
    const at = `${name}[${i}]`;
    if (!isRecord(item)) {
      problems.push({ path: at, message: 'must be an object' });
      return;
    }
    const schema = schemaFor(item, at);
    if (schema) structural(schema, item, at, problems);
  });
  return value;
}

function byKind(
  item: Record<string, unknown>,
  at: string,
  schemas: Record<string, TSchema>,
  kinds: readonly string[],
  what: string,
  problems: SpecProblem[],
): TSchema | null {
  const kind = item.kind;
  if (typeof kind !== 'string') {
    problems.push({ path: `${at}.kind`, message: `is required: one of ${kinds.join(', ')}` });
    return null;
  }
  const schema = Object.hasOwn(schemas, kind) ? schemas[kind] : undefined;
  if (!schema) {
    problems.push({
      path: `${at}.kind`,
      message: `unknown ${what} kind "${kind}"; expected one of ${kinds.join(', ')}`,
    });
    return null;
  }
  return schema;
}

interface Producer {
  path: string;
  describe: string;
  fields: FieldSchema | null;
}

function semantic(
  spec: PipelineSpec,
  topics: TopicSpec[],
  sources: SourceSpec[],
  transforms: TransformSpec[],
  sinks: SinkSpec[],
  ctx: ValidationContext,
): { problems: SpecProblem[]; pipeline?: ValidatedPipeline } {
  const problems: SpecProblem[] = [];
  const add = (path: string, message: string): void => void problems.push({ path, message });

  // Names: sources, transforms and sinks name consumer groups and transactional IDs, so they
  // are unique across all three.
  const names = new Map<string, string>();
  const claim = (name: string, path: string): void => {
    const other = names.get(name);
    if (other) add(`${path}.name`, `"${name}" is already the name of ${other}`);
    else names.set(name, path);
  };
  sources.forEach((s, i) => claim(s.name, `sources[${i}]`));
  transforms.forEach((t, i) => claim(t.name, `transforms[${i}]`));
  sinks.forEach((s, i) => claim(s.name, `sinks[${i}]`));

  const declared = new Map<string, { spec: TopicSpec; index: number }>();
  topics.forEach((t, i) => {
    if (declared.has(t.name))
      add(`topics[${i}].name`, `topic "${t.name}" is declared twice (also topics[${declared.get(t.name)?.index}])`);
    else declared.set(t.name, { spec: t, index: i });
  });
  const deadLetterTopic = spec.deadLetterTopic ?? defaultDeadLetterTopic(spec.name);
  const needTopic = (topic: string, path: string): boolean => {
    if (topic === deadLetterTopic) {
      add(path, `"${topic}" is the pipeline's dead-letter topic; it only receives records that failed`);
      return false;
    }
    if (!declared.has(topic)) {
      add(path, `topic "${topic}" is not declared in topics`);
      return false;
    }
    return true;
  };

  // Who writes each topic.
  const producers = new Map<string, Producer[]>();
  const produce = (topic: string, p: Producer): void => void producers.set(topic, [...(producers.get(topic) ?? []), p]);
  sources.forEach((s, i) => {
    if (needTopic(s.topic, `sources[${i}].topic`))
      produce(s.topic, { path: `sources[${i}]`, describe: `source "${s.name}"`, fields: sourceFields(s) });
    if (s.key !== undefined && !(s.key in sourceFields(s)))
      add(`sources[${i}].key`, `no field "${s.key}" in the source's fields`);
  });
  transforms.forEach((t, i) => {
    needTopic(t.input, `transforms[${i}].input`);
    if (needTopic(t.output, `transforms[${i}].output`)) {
      if (declared.get(t.output)?.spec.external)
        add(`transforms[${i}].output`, `topic "${t.output}" is declared external; the pipeline does not write it`);
      produce(t.output, { path: `transforms[${i}]`, describe: `transform "${t.name}"`, fields: null });
    }
  });
  sinks.forEach((s, i) => needTopic(s.topic, `sinks[${i}].topic`));
  topics.forEach((t, i) => {
    const written = producers.get(t.name) ?? [];
    if (t.external && !t.fields)
      add(`topics[${i}].fields`, `external topic "${t.name}" needs its fields, so that its readers can be checked`);
    if (t.external && written.some((p) => p.path.startsWith('sources'))) {
      add(
        `topics[${i}].external`,
        `topic "${t.name}" is written by ${written[0]?.describe}; ` +
          'only topics produced outside the pipeline are external',
      );
    }
    if (!t.fields && written.length > 1) {
      add(
        `topics[${i}].fields`,
        `topic "${t.name}" has ${written.length} producers ` +
          `(${written.map((p) => p.describe).join(', ')}); declare its fields`,
      );
    }
  });
  const readers: Array<{ topic: string; path: string }> = [
    ...transforms.map((t, i) => ({ topic: t.input, path: `transforms[${i}].input` })),
    ...sinks.map((s, i) => ({ topic: s.topic, path: `sinks[${i}].topic` })),
  ];
  for (const r of readers) {
    const d = declared.get(r.topic);
    if (d && !d.spec.external && !producers.get(r.topic)?.length) {
      add(
        r.path,
        `nothing writes topic "${r.topic}": no source or transform produces it, and it is not declared external`,
      );
    }
  }

  const order = topologicalOrder(transforms, add);
  if (problems.length > 0) return { problems };

  // Fields, stage by stage in producer order.
  const fields: Record<string, FieldSchema> = {};
  for (const t of topics) if (t.fields) fields[t.name] = t.fields;
  for (const s of sources) if (!fields[s.topic]) fields[s.topic] = sourceFields(s);
  sources.forEach((s, i) => conform(`sources[${i}]`, s.topic, sourceFields(s), declared.get(s.topic)?.spec, add));
  const byName = new Map(transforms.map((t, i) => [t.name, { t, i }]));
  for (const name of order) {
    const { t, i } = byName.get(name) as { t: TransformSpec; i: number };
    const at = `transforms[${i}]`;
    const input = fields[t.input];
    if (!input) continue; // its producer failed: reported there
    const inputTopic = declared.get(t.input)?.spec;
    if (t.replicas !== undefined && t.replicas > (inputTopic?.partitions ?? 1)) {
      add(
        `${at}.replicas`,
        `${t.replicas} replicas for the ${inputTopic?.partitions ?? 1} partition(s) of topic "${t.input}": ` +
          'the extra ones would idle',
      );
    }
    let features: readonly FeatureSpec[] | undefined;
    if (t.kind === 'model') {
      if ((t.environment === undefined) === (t.version === undefined)) {
        add(`${at}.model`, 'name the deployment by environment, or the model version, but not both');
        continue;
      }
      features = ctx.models?.[modelRefKey(t)];
      if (!features) {
        const what = t.version !== undefined ? `version ${t.version}` : `deployment in environment "${t.environment}"`;
        add(
          `${at}.${t.version !== undefined ? 'version' : 'environment'}`,
          `model "${t.model}" has no ${what} whose features are known`,
        );
        continue;
      }
    }
    const out = transformOutput(t, input, features);
    if (out.fields === null) {
      for (const p of out.problems) add(`${at}.${p.at}`, p.message);
      continue;
    }
    conform(at, t.output, out.fields, declared.get(t.output)?.spec, add);
    fields[t.output] ??= out.fields;
  }
  sinks.forEach((s, i) => {
    const have = fields[s.topic];
    if (!have || s.kind !== 'postgres') return;
    for (const k of s.key)
      if (!(k in have))
        add(`sinks[${i}].key`, `no field "${k}" in topic "${s.topic}"; it has ${Object.keys(have).sort().join(', ')}`);
    for (const c of s.columns ?? [])
      if (!(c in have)) add(`sinks[${i}].columns`, `no field "${c}" in topic "${s.topic}"`);
    for (const k of s.key)
      if (s.columns && !s.columns.includes(k)) add(`sinks[${i}].columns`, `must include the key field "${k}"`);
  });
  if (problems.length > 0) return { problems };

  const created = topics.some((t) => t.name === deadLetterTopic)
    ? topics
    : [...topics, { name: deadLetterTopic, partitions: 1 }];
  return {
    problems,
    pipeline: { spec, guarantee: spec.guarantee ?? 'at-least-once', deadLetterTopic, topics: created, order, fields },
  };
}

/** The fields a producer writes against the topic's declared fields, if it declares any. */
function conform(
  at: string,
  topic: string,
  written: FieldSchema,
  declared: TopicSpec | undefined,
  add: (p: string, m: string) => void,
): void {
  if (!declared?.fields) return;
  const where = at.startsWith('sources') ? `${at}.topic` : `${at}.output`;
  for (const [name, type] of Object.entries(declared.fields)) {
    const have = written[name];
    if (have === undefined)
      add(where, `topic "${topic}" declares field "${name}" (${type}), which this stage does not write`);
    else if (!fits(have, type))
      add(where, `topic "${topic}" declares field "${name}" as ${type}, this stage writes ${have}`);
  }
}

/** Kahn's algorithm over "t1 writes the topic t2 reads"; a cycle is named at the transform closing it. */
function topologicalOrder(transforms: TransformSpec[], add: (p: string, m: string) => void): string[] {
  const readersOf = new Map<string, number[]>();
  transforms.forEach((t, i) => readersOf.set(t.input, [...(readersOf.get(t.input) ?? []), i]));
  const next = (i: number): number[] => readersOf.get((transforms[i] as TransformSpec).output) ?? [];
  const indegree = transforms.map(() => 0);
  transforms.forEach((_, i) => next(i).forEach((j) => (indegree[j] = (indegree[j] ?? 0) + 1)));
  const queue = transforms.map((_, i) => i).filter((i) => indegree[i] === 0);
  const order: number[] = [];
  while (queue.length > 0) {
    const i = queue.shift() as number;
    order.push(i);
    for (const j of next(i)) if (--(indegree[j] as number) === 0) queue.push(j);
  }
  if (order.length === transforms.length) return order.map((i) => (transforms[i] as TransformSpec).name);
  // Depth-first among what is left, to name one cycle.
  const left = new Set(transforms.map((_, i) => i).filter((i) => !order.includes(i)));
  const done = new Set<number>();
  const findCycle = (i: number, path: number[]): number[] | null => {
    const at = path.indexOf(i);
    if (at >= 0) return [...path.slice(at), i];
    if (done.has(i)) return null;
    for (const j of next(i)) {
      if (!left.has(j)) continue;
      const cycle = findCycle(j, [...path, i]);
      if (cycle) return cycle;
    }
    done.add(i);
    return null;
  };
  for (const i of left) {
    const cycle = findCycle(i, []);
    if (!cycle) continue;
    const closing = cycle.at(-2) as number;
    const names = cycle.map((k) => (transforms[k] as TransformSpec).name).join(' → ');
    const via = cycle
      .slice(0, -1)
      .map((k) => (transforms[k] as TransformSpec).output)
      .join(', ');
    add(`transforms[${closing}].output`, `makes a cycle: ${names} (through topics ${via})`);
    break;
  }
  return [];
}
