/**
 * A lifecycle request from a YAML or JSON file (the body of `POST /v1/lifecycles`), with flags
 * over it, checked against the same TypeBox schema the API validates with before anything is sent.
 * The schema is published as docs/schemas/lifecycle.schema.json (scripts/lifecycle-schema.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { FormatRegistry } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import YAML from 'yaml';
import { yamlDepthProblem } from '../core/data/bounded-yaml';
import { StartLifecycleBody } from '../api/schemas/lifecycle';
import { usageError } from './exit-codes';

// The API's validator knows this format; TypeBox's needs it registered.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set(
    'date-time',
    (v) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i.test(v) && !Number.isNaN(Date.parse(v)),
  );
}

export interface LifecycleFlags {
  model?: string;
  repo?: string;
  ref?: string;
  path?: string;
  dataset?: string;
  param?: string[];
  key?: string;
}

type Json = Record<string, unknown>;

/** Reads a request file: YAML (JSON is YAML too); the top level must be a mapping. */
export function readRequestFile(file: string): Json {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const tooDeep = yamlDepthProblem(text);
  if (tooDeep) throw usageError(`${file}: ${tooDeep}`);
  let doc: unknown;
  try {
    doc = YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw usageError(`${file}: not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw usageError(`${file}: must hold a mapping of request fields (model, repo, dataset, …)`);
  }
  return doc as Json;
}

const isRemote = (url: string): boolean => url.includes('://') || /^[^/]+@[^/]+:/.test(url);

/** `key=value`; the value is JSON when it parses as JSON, else the text. */
export function parseParam(kv: string): [string, unknown] {
  const i = kv.indexOf('=');
  if (i <= 0) throw usageError(`--param must look like key=value (got "${kv}")`);
  const raw = kv.slice(i + 1);
  try {
    return [kv.slice(0, i), JSON.parse(raw) as unknown];
  } catch {
    return [kv.slice(0, i), raw];
  }
}

/**
 * The request body from an optional file and the flags (flags win). Relative local paths are
 * resolved against the file's folder when they come from the file, against the working folder
 * when they come from flags, since the API takes absolute paths only.
 */
export function buildLifecycleRequest(file: string | undefined, flags: LifecycleFlags, cwd = process.cwd()): Json {
  const body: Json = file ? readRequestFile(file) : {};
  const fileDir = file ? path.dirname(path.resolve(cwd, file)) : cwd;
  const repo = isObject(body.repo) ? { ...body.repo } : body.repo === undefined ? {} : body.repo;
  if (isObject(repo)) {
    if (typeof repo.url === 'string' && !isRemote(repo.url)) repo.url = path.resolve(fileDir, repo.url);
    if (flags.repo !== undefined) repo.url = isRemote(flags.repo) ? flags.repo : path.resolve(cwd, flags.repo);
    if (flags.ref !== undefined) repo.ref = flags.ref;
    if (flags.path !== undefined) repo.path = flags.path;
    if (repo.ref === undefined && repo.url !== undefined) repo.ref = 'HEAD';
    if (Object.keys(repo).length > 0) body.repo = repo;
  }
  if (isObject(body.dataset) && typeof body.dataset.path === 'string') {
    body.dataset = { ...body.dataset, path: path.resolve(fileDir, body.dataset.path) };
  }
  if (flags.dataset !== undefined) body.dataset = { path: path.resolve(cwd, flags.dataset) };
  if (flags.model !== undefined) body.model = flags.model;
  if (flags.key !== undefined) body.key = flags.key;
  if (flags.param?.length) {
    body.params = { ...(isObject(body.params) ? body.params : {}), ...Object.fromEntries(flags.param.map(parseParam)) };
  }
  const problems = lifecycleRequestProblems(body);
  if (problems.length > 0) {
    const where = file ? `${file}: ` : '';
    throw usageError(`${where}invalid lifecycle request:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
  return body;
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Every problem of a request, each naming its field (`field "repo.url": …`). Empty when it is valid. */
export function lifecycleRequestProblems(body: unknown): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of explain(Value.Errors(StartLifecycleBody, body))) {
    const field = e.path.slice(1).replaceAll('/', '.') || '(top level)';
    if (seen.has(field)) continue;
    seen.add(field);
    out.push(`field "${field}": ${describe(e)}`);
  }
  return out;
}

/** For a union (e.g. `dataset`), the errors of the variant that came closest, instead of "Expected union value". */
function explain(errors: Iterable<ValueError>): ValueError[] {
  const out: ValueError[] = [];
  for (const e of errors) {
    if (e.type === ValueErrorType.Union && e.errors.length > 0) {
      const variants = e.errors.map((it) => [...it]);
      const closest = variants.reduce((a, b) => (b.length < a.length ? b : a));
      out.push(...(closest.length > 0 ? explain(closest) : [e]));
    } else {
      out.push(e);
    }
  }
  return out;
}

function describe(e: ValueError): string {
  if (e.type === ValueErrorType.ObjectRequiredProperty) return 'is required';
  if (e.type === ValueErrorType.ObjectAdditionalProperties) return 'is not a field of a lifecycle request here';
  const shown =
    typeof e.value === 'number' && !Number.isFinite(e.value) ? String(e.value) : JSON.stringify(e.value)?.slice(0, 80);
  const got = e.value === undefined ? '' : ` (got ${shown})`;
  return `${e.message.charAt(0).toLowerCase()}${e.message.slice(1)}${got}`;
}
