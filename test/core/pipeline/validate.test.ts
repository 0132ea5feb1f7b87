import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MloopError } from '../../../core/errors';
import { pipelineJsonSchema } from '../../../core/pipeline/spec';
import {
  assertValidPipeline,
  modelRefs,
  parsePipelineText,
  validatePipeline,
  type SpecProblem,
  type ValidationContext,
} from '../../../core/pipeline/validate';
import type { FeatureSpec } from '../../../core/serving/kserve-client';

const root = path.resolve(import.meta.dirname, '../../..');
const features: FeatureSpec[] = ['temperature_c', 'vibration_mm_s', 'pressure_bar', 'rpm', 'operating_hours'].map(
  (name) => ({ name, type: 'number' }),
);
const ctx: ValidationContext = { models: { 'pm@production': features } };

/** A small valid pipeline: readings → filter → window → model. */
function base(): Record<string, unknown> & {
  topics: Record<string, unknown>[];
  transforms: Record<string, unknown>[];
  sinks: Record<string, unknown>[];
} {
  return {
    name: 'plant',
    topics: [
      {
        name: 'readings',
        partitions: 3,
        external: true,
        fields: {
          machine_id: 'string',
          temperature_c: 'number',
          vibration_mm_s: 'number',
          pressure_bar: 'number',
          rpm: 'number',
          operating_hours: 'number',
          ts: 'string',
        },
      },
      { name: 'hot', partitions: 3 },
      { name: 'features', partitions: 3 },
      { name: 'scores' },
    ],
    transforms: [
      { name: 'keep-hot', kind: 'filter', input: 'readings', output: 'hot', where: 'temperature_c > 60', replicas: 2 },
      {
        name: 'windows',
        kind: 'window',
        input: 'hot',
        output: 'features',
        key: 'machine_id',
        time: 'ts',
        window: { type: 'tumbling', size: '10s', grace: '2s' },
        aggregates: {
          n: { op: 'count' },
          temperature_c: { op: 'mean', field: 'temperature_c' },
          vibration_mm_s: { op: 'mean', field: 'vibration_mm_s' },
          pressure_bar: { op: 'min', field: 'pressure_bar' },
          rpm: { op: 'max', field: 'rpm' },
          operating_hours: { op: 'last', field: 'operating_hours' },
        },
      },
      { name: 'score', kind: 'model', input: 'features', output: 'scores', model: 'pm', environment: 'production' },
    ],
    sinks: [{ name: 'db', kind: 'postgres', topic: 'scores', table: 'scores', key: ['machine_id', 'window_start'] }],
  };
}

const problemsOf = (spec: unknown, c: ValidationContext = ctx): SpecProblem[] => {
  const r = validatePipeline(spec, c);
  if (r.ok) throw new Error('the spec was accepted');
  return r.problems;
};

describe('pipeline validation', () => {
  it('accepts a valid pipeline, ordering transforms after their producers and typing every topic', () => {
    const spec = base();
    spec.transforms.reverse();
    const r = validatePipeline(spec, ctx);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.pipeline.order).toEqual(['keep-hot', 'windows', 'score']);
    expect(r.pipeline.guarantee).toBe('at-least-once');
    expect(r.pipeline.deadLetterTopic).toBe('plant.dead-letter');
    expect(r.pipeline.topics.map((t) => t.name)).toContain('plant.dead-letter');
    expect(r.pipeline.fields.features).toMatchObject({
      machine_id: 'string',
      window_start: 'string',
      n: 'integer',
      temperature_c: 'number',
    });
    expect(r.pipeline.fields.scores).toMatchObject({ prediction: 'any', probability: 'number', n: 'integer' });
  });

  it('accepts the example pipeline, in YAML and as JSON', () => {
    const text = fs.readFileSync(path.join(root, 'examples/predictive-maintenance/pipeline.yaml'), 'utf8');
    const spec = parsePipelineText(text);
    const models = { 'predictive-maintenance@production': features };
    expect(modelRefs(spec)).toEqual([
      { key: 'predictive-maintenance@production', model: 'predictive-maintenance', environment: 'production' },
    ]);
    const fromYaml = assertValidPipeline(spec, { models });
    const fromJson = assertValidPipeline(parsePipelineText(JSON.stringify(spec)), { models });
    expect(fromJson).toEqual(fromYaml);
    expect(fromYaml.guarantee).toBe('exactly-once');
  });

  it('refuses a cycle, naming the transform that closes it and the topics', () => {
    const spec = base();
    spec.transforms.push({ name: 'back', kind: 'map', input: 'hot', output: 'readings', set: { x: '1' } });
    spec.topics[0] = { name: 'readings', partitions: 3 };
    const problems = problemsOf(spec);
    expect(problems).toContainEqual({
      path: 'transforms[3].output',
      message: 'makes a cycle: keep-hot → back → keep-hot (through topics hot, readings)',
    });
  });

  it('refuses a self-loop', () => {
    const spec = base();
    spec.transforms.push({ name: 'loop', kind: 'filter', input: 'scores', output: 'scores', where: 'true' });
    expect(problemsOf(spec)).toContainEqual({
      path: 'transforms[3].output',
      message: expect.stringContaining('makes a cycle: loop → loop'),
    });
  });

  it('refuses a dangling input topic that nothing produces and that is not external', () => {
    const spec = base();
    spec.topics.push({ name: 'orphan' });
    spec.transforms.push({ name: 'late', kind: 'filter', input: 'orphan', output: 'hot', where: 'true' });
    spec.topics[1] = { name: 'hot', partitions: 3, fields: { machine_id: 'string' } };
    const problems = problemsOf(spec);
    expect(problems).toContainEqual({
      path: 'transforms[3].input',
      message: 'nothing writes topic "orphan": no source or transform produces it, and it is not declared external',
    });
  });

  it('refuses topics that are not declared, and writing to the dead-letter topic', () => {
    const spec = base();
    (spec.transforms[0] as Record<string, unknown>).output = 'hott';
    spec.sinks.push({ name: 'dlq', kind: 'jsonl', topic: 'plant.dead-letter', path: '/tmp/x.jsonl' });
    const problems = problemsOf(spec);
    expect(problems).toContainEqual({
      path: 'transforms[0].output',
      message: 'topic "hott" is not declared in topics',
    });
    expect(problems).toContainEqual({
      path: 'sinks[1].topic',
      message: expect.stringContaining("is the pipeline's dead-letter topic"),
    });
  });

  it('refuses a model transform whose input lacks a feature or has it with another type', () => {
    const spec = base();
    (spec.transforms[1] as { aggregates: Record<string, unknown> }).aggregates = {
      n: { op: 'count' },
      temperature_c: { op: 'mean', field: 'temperature_c' },
    };
    const problems = problemsOf(spec);
    expect(problems).toContainEqual({
      path: 'transforms[2].input',
      message: expect.stringMatching(
        new RegExp(
          /^the model reads "vibration_mm_s" \(number\), /.source +
            /which topic "features" does not have; it has machine_id, n, temperature_c/.source,
        ),
      ),
    });
    const typed = base();
    typed.topics[0] = { ...typed.topics[0], fields: { ...(typed.topics[0]?.fields as object), rpm: 'string' } };
    (typed.transforms[1] as { aggregates: Record<string, unknown> }).aggregates.rpm = { op: 'last', field: 'rpm' };
    expect(problemsOf(typed)).toContainEqual({
      path: 'transforms[2].input',
      message: 'the model reads "rpm" as number, topic "features" has it as string',
    });
  });

  it(
    'refuses a model transform whose model features are not known, ' +
      'or that names both a version and an environment',
    () => {
      expect(problemsOf(base(), {})).toEqual([
        {
          path: 'transforms[2].environment',
          message: 'model "pm" has no deployment in environment "production" whose features are known',
        },
      ]);
      const both = base();
      (both.transforms[2] as Record<string, unknown>).version = 3;
      expect(problemsOf(both)).toEqual([
        {
          path: 'transforms[2].model',
          message: 'name the deployment by environment, or the model version, but not both',
        },
      ]);
    },
  );

  it('refuses an unknown transform, source or sink kind, listing the known ones', () => {
    const spec = base();
    spec.transforms[1] = { name: 'j', kind: 'join', input: 'hot', output: 'features' };
    spec.sinks[0] = { name: 'db', kind: 'kafka-connect', topic: 'scores' };
    const problems = problemsOf(spec);
    expect(problems).toContainEqual({
      path: 'transforms[1].kind',
      message: 'unknown transform kind "join"; expected one of filter, map, project, window, model',
    });
    expect(problems).toContainEqual({
      path: 'sinks[0].kind',
      message: 'unknown sink kind "kafka-connect"; expected one of postgres, webhook, jsonl',
    });
  });

  it('refuses invalid and duplicate names', () => {
    const spec = base();
    spec.name = 'Plant 1';
    (spec.transforms[1] as Record<string, unknown>).name = 'keep-hot';
    spec.topics.push({ name: 'bad topic!' });
    const structural = problemsOf(spec);
    expect(structural).toContainEqual({
      path: 'name',
      message: 'must be lowercase letters, digits and "-", start with a letter and have at most 63 characters',
    });
    expect(structural).toContainEqual({
      path: 'topics[4].name',
      message: expect.stringContaining('must be a Kafka topic name'),
    });
    const dup = base();
    (dup.transforms[1] as Record<string, unknown>).name = 'keep-hot';
    expect(problemsOf(dup)).toContainEqual({
      path: 'transforms[1].name',
      message: '"keep-hot" is already the name of transforms[0]',
    });
  });

  it('names missing, unknown and ill-typed properties by their place', () => {
    const spec = base();
    delete (spec.transforms[0] as Record<string, unknown>).input;
    (spec.transforms[0] as Record<string, unknown>).wehre = 'x';
    (spec.transforms[1] as { window: Record<string, unknown> }).window.size = 'ten seconds';
    (spec.topics[0] as { fields: Record<string, unknown> }).fields.rpm = 'float';
    const problems = problemsOf(spec);
    expect(problems).toContainEqual({ path: 'transforms[0].input', message: 'is required' });
    expect(problems).toContainEqual({ path: 'transforms[0].wehre', message: 'is not a known property here' });
    expect(problems).toContainEqual({
      path: 'transforms[1].window.size',
      message: 'must be a duration such as 500ms, 10s, 5m, 1h or 7d',
    });
    expect(problems).toContainEqual({
      path: 'topics[0].fields.rpm',
      message: 'must be one of number, integer, string, boolean, any',
    });
  });

  it('refuses expressions with unknown fields or wrong types, naming the column', () => {
    const spec = base();
    (spec.transforms[0] as Record<string, unknown>).where = 'temprature_c > 60';
    expect(problemsOf(spec)[0]).toEqual({
      path: 'transforms[0].where',
      message: expect.stringMatching(
        /^temprature_c > 60: column 1: unknown field "temprature_c"; the input has machine_id, /,
      ),
    });
    const notBool = base();
    (notBool.transforms[0] as Record<string, unknown>).where = 'temperature_c * 2';
    expect(problemsOf(notBool)[0]).toEqual({
      path: 'transforms[0].where',
      message: 'temperature_c * 2: is a number, a filter needs a condition (true or false)',
    });
  });

  it('refuses map and project fields that are not there', () => {
    const spec = base();
    spec.transforms[0] = {
      name: 'keep-hot',
      kind: 'map',
      input: 'readings',
      output: 'hot',
      rename: { temp: 't' },
      set: { ratio: 'rpm / vibraton' },
      drop: ['nope'],
    };
    const problems = problemsOf(spec);
    expect(problems).toContainEqual({
      path: 'transforms[0].rename.temp',
      message: expect.stringContaining('no field "temp" to rename'),
    });
    expect(problems).toContainEqual({
      path: 'transforms[0].set.ratio',
      message: expect.stringContaining('column 7: unknown field "vibraton"'),
    });
    expect(problems).toContainEqual({ path: 'transforms[0].drop', message: 'no field "nope" to drop' });
    const project = base();
    project.transforms[0] = {
      name: 'keep-hot',
      kind: 'project',
      input: 'readings',
      output: 'hot',
      fields: ['machine_id', 'pressure'],
    };
    expect(problemsOf(project)).toContainEqual({
      path: 'transforms[0].fields',
      message: expect.stringContaining('no field "pressure" to keep'),
    });
  });

  it('checks window keys, times, sizes and aggregate fields', () => {
    const spec = base();
    Object.assign(spec.transforms[1] as object, {
      key: 'machine',
      time: 'when',
      window: { type: 'hopping', size: '10s', advance: '20s' },
      aggregates: { s: { op: 'sum', field: 'machine_id' }, m: { op: 'mean' }, window_start: { op: 'count' } },
    });
    const problems = problemsOf(spec).map((p) => p.path);
    expect(problems).toEqual(
      expect.arrayContaining([
        'transforms[1].key',
        'transforms[1].time',
        'transforms[1].window.advance',
        'transforms[1].aggregates.s.field',
        'transforms[1].aggregates.m.field',
        'transforms[1].aggregates.window_start',
      ]),
    );
    const tiny = base();
    (tiny.transforms[1] as Record<string, unknown>).window = { type: 'hopping', size: '1h', advance: '1s' };
    expect(problemsOf(tiny)).toContainEqual({
      path: 'transforms[1].window.advance',
      message: 'puts each record in 3600 windows; at most 1000',
    });
  });

  it('checks field schemas between stages against a topic’s declared fields', () => {
    const spec = base();
    spec.topics[2] = {
      name: 'features',
      partitions: 3,
      fields: { machine_id: 'string', n: 'string', extra: 'number' },
    };
    const problems = problemsOf(spec);
    expect(problems).toContainEqual({
      path: 'transforms[1].output',
      message: 'topic "features" declares field "n" as string, this stage writes integer',
    });
    expect(problems).toContainEqual({
      path: 'transforms[1].output',
      message: 'topic "features" declares field "extra" (number), which this stage does not write',
    });
  });

  it('checks sink keys against the topic, and replicas against partitions', () => {
    const spec = base();
    (spec.sinks[0] as Record<string, unknown>).key = ['machine_id', 'window'];
    (spec.transforms[2] as Record<string, unknown>).replicas = 4;
    const problems = problemsOf(spec);
    expect(problems).toContainEqual({
      path: 'sinks[0].key',
      message: expect.stringContaining('no field "window" in topic "scores"'),
    });
    expect(problems).toContainEqual({
      path: 'transforms[2].replicas',
      message: '4 replicas for the 3 partition(s) of topic "features": the extra ones would idle',
    });
  });

  it('needs fields for external topics and for topics with several producers', () => {
    const spec = base();
    spec.topics[0] = { name: 'readings', external: true };
    expect(problemsOf(spec)).toContainEqual({
      path: 'topics[0].fields',
      message: 'external topic "readings" needs its fields, so that its readers can be checked',
    });
  });

  it('throws one InvalidInput listing every problem, with the first place as its field', () => {
    const spec = base();
    spec.transforms[1] = { name: 'j', kind: 'join', input: 'hot', output: 'features' };
    spec.guarantee = 'twice';
    try {
      assertValidPipeline(spec, ctx);
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(MloopError);
      const e = err as MloopError;
      expect(e.code).toBe('InvalidInput');
      expect(e.message).toContain('guarantee: must be one of at-least-once, exactly-once');
      expect(e.message).toContain('transforms[1].kind: unknown transform kind "join"');
      expect((e.details.problems as SpecProblem[]).length).toBe(2);
    }
  });

  it('refuses specs that are not objects, and reports YAML syntax errors with their line', () => {
    expect(problemsOf([])).toEqual([{ path: '(spec)', message: 'must be an object with name, topics and transforms' }]);
    expect(problemsOf({ name: 'x', topics: [], transforms: [] }).map((p) => p.path)).toEqual(['topics', 'transforms']);
    expect(() => parsePipelineText('name: x\ntopics: [\n')).toThrow(/pipeline spec: line \d+, column \d+/);
    expect(() => parsePipelineText('name: a\nname: b\n')).toThrow(/pipeline spec: line 2/);
    expect(() => parsePipelineText('{"name": ')).toThrow(/not valid JSON/);
  });

  it('publishes the JSON Schema it validates with', () => {
    const file = JSON.parse(fs.readFileSync(path.join(root, 'core/pipeline/pipeline.schema.json'), 'utf8')) as unknown;
    expect(file).toEqual(pipelineJsonSchema());
  });
});
