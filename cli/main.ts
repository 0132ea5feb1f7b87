/**
 * mloop CLI (the TypeScript part; `mloop dev` and `mloop setup` are shell, see bin/mloop).
 *   mloop lifecycle start --model NAME --repo URL [--ref REF] [--path DIR] --dataset FILE [--param k=v]... [--wait]
 *   mloop lifecycle status ID
 *   mloop approve|reject ID [--comment TEXT]       ID: lifecycle/<model>/<key> or deploy/<model>/<env>/<key>
 *   mloop deploy --model NAME (--version N | --alias A) --env staging|production [--backend process|docker] [--key K]
 *   mloop rollback --model NAME --reason TEXT
 *   mloop token add --subject NAME --role ROLE...
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isRole, roles, type Role } from '../core/auth/roles';
import { addToken } from '../core/auth/token-file';
import { loadConfig } from '../core/config';
import { ApiClient } from './api-client';
import { decisionPath } from './decision-path';
import { findCliToken } from './token';

const config = loadConfig();
const api = new ApiClient(
  process.env.MLOOP_API_URL ?? `http://127.0.0.1:${config.apiPort}`,
  findCliToken(process.env, config.auth),
  config.auth.cliTokenFile,
);

interface LifecycleView {
  id: string;
  status: string;
  stage?: string;
  commitSha?: string;
  version?: number;
  error?: string;
  metrics?: Record<string, number | null>;
  train?: {
    artifactDigest: string;
    dataset: { uri: string; fingerprint: string };
    rows: { train: number; holdout: number };
    evaluation: { champion: { version: number } | null; gates: Array<{ metric: string; passed: boolean }> };
  };
  links?: { webUi: string };
}

function parseParam(kv: string): [string, unknown] {
  const i = kv.indexOf('=');
  if (i <= 0) throw new Error(`--param must look like key=value (got "${kv}")`);
  const raw = kv.slice(i + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    /* a plain string */
  }
  return [kv.slice(0, i), value];
}

function printLifecycle(v: LifecycleView): void {
  const lines = [`lifecycle  ${v.id}`, `status     ${v.status}${v.stage ? ` (stage: ${v.stage})` : ''}`];
  if (v.commitSha) lines.push(`commit     ${v.commitSha}`);
  if (v.version !== undefined) lines.push(`version    ${v.version}`);
  if (v.train) {
    const { dataset, rows, evaluation } = v.train;
    lines.push(
      `artifact   ${v.train.artifactDigest}`,
      `dataset    ${dataset.uri}`,
      `           ${dataset.fingerprint} (${rows.train} train / ${rows.holdout} holdout rows)`,
    );
    const gates = evaluation.gates.map((g) => `${g.metric} ${g.passed ? 'passed' : 'failed'}`).join(', ') || 'none';
    const against = evaluation.champion ? `champion v${evaluation.champion.version}` : 'no champion yet';
    lines.push(`gates      ${gates}; compared with ${against}`);
  }
  if (v.metrics)
    lines.push(
      `metrics    ${Object.entries(v.metrics)
        .map(([k, x]) => `${k}=${x === null ? 'n/a' : x.toFixed(4)}`)
        .join('  ')}`,
    );
  if (v.error) lines.push(`error      ${v.error}`);
  if (v.links?.webUi) lines.push(`web ui     ${v.links.webUi}`);
  console.log(lines.join('\n'));
}

async function lifecycleStart(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      repo: { type: 'string' },
      ref: { type: 'string', default: 'HEAD' },
      path: { type: 'string', default: '' },
      dataset: { type: 'string' },
      param: { type: 'string', multiple: true, default: [] },
      key: { type: 'string' },
      wait: { type: 'boolean', default: false },
    },
  });
  for (const required of ['model', 'repo', 'dataset'] as const) {
    if (!values[required]) throw new Error(`--${required} is required`);
  }
  const repoUrl =
    values.repo!.includes('://') || values.repo!.includes('@') ? values.repo! : path.resolve(values.repo!);
  const started = await api.request<{ id: string; links: { webUi: string } }>('POST', '/v1/lifecycles', {
    model: values.model,
    repo: { url: repoUrl, ref: values.ref, path: values.path },
    dataset: { path: path.resolve(values.dataset!) },
    params: Object.fromEntries(values.param.map(parseParam)),
    ...(values.key ? { key: values.key } : {}),
  });
  console.log(`started ${started.id}\nweb ui  ${started.links.webUi}`);
  if (!values.wait) return 0;
  let last = '';
  for (;;) {
    const view = await api.request<LifecycleView>('GET', `/v1/lifecycles/${started.id}`);
    const now = `${view.status}/${view.stage ?? ''}`;
    if (now !== last) console.log(`… ${now}`);
    last = now;
    if (view.status !== 'RUNNING') {
      printLifecycle(view);
      return view.status === 'COMPLETED' && view.stage === 'done' ? 0 : 1;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A new token in the API's token file (the API rereads it); printed once, stored only as its hash. */
async function tokenAdd(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { subject: { type: 'string' }, role: { type: 'string', multiple: true, default: [] } },
  });
  if (!values.subject) throw new Error('--subject is required');
  const bad = values.role.find((r) => !isRole(r));
  if (bad !== undefined || values.role.length === 0) {
    const got = bad !== undefined ? ` (got "${bad}")` : '';
    throw new Error(`--role must be given at least once, each one of ${roles.join(', ')}${got}`);
  }
  const token = await addToken(config.auth.tokensFile, values.subject, values.role as Role[]);
  const what = `a token for "${values.subject}" (${values.role.join(', ')})`;
  console.error(`added ${what} to ${config.auth.tokensFile}; it is shown only now:`);
  console.log(token);
  return 0;
}

async function decide(action: 'approve' | 'reject', argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { comment: { type: 'string' } } });
  const [id] = positionals;
  if (!id || positionals.length > 1) throw new Error(`usage: mloop ${action} ID [--comment TEXT]`);
  const d = await api.request<{ by: string; at: string; approved: boolean }>('POST', decisionPath(id, action), {
    ...(values.comment ? { comment: values.comment } : {}),
  });
  console.log(`${d.approved ? 'approved' : 'rejected'} ${id} as ${d.by} at ${d.at}`);
  return 0;
}

async function deploy(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      version: { type: 'string' },
      alias: { type: 'string' },
      env: { type: 'string' },
      backend: { type: 'string' },
      key: { type: 'string' },
    },
  });
  if (!values.model || !values.env) throw new Error('--model and --env are required');
  if ((values.version === undefined) === (values.alias === undefined)) throw new Error('give either --version or --alias');
  const version = values.version === undefined ? undefined : Number(values.version);
  if (version !== undefined && !(Number.isInteger(version) && version >= 1)) throw new Error(`--version must be a whole number from 1 (got "${values.version}")`);
  const started = await api.request<{ id: string; links: { self: string } }>('POST', '/v1/deployments', {
    model: values.model,
    environment: values.env,
    ...(version !== undefined ? { version } : { alias: values.alias }),
    ...(values.backend ? { backend: values.backend } : {}),
    ...(values.key ? { key: values.key } : {}),
  });
  console.log(`started ${started.id}\nstatus  ${started.links.self}`);
  return 0;
}

async function rollback(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, reason: { type: 'string' } } });
  if (!values.model || !values.reason) throw new Error('--model and --reason are required');
  const r = await api.request<{ id: string; from: number; to: number }>('POST', `/v1/models/${encodeURIComponent(values.model)}/rollback`, {
    reason: values.reason,
  });
  console.log(`rolling ${values.model} back from v${r.from} to v${r.to}: ${r.id}`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [group, cmd, ...rest] = argv;
  if (group === 'token' && cmd === 'add') return tokenAdd(rest);
  if (group === 'approve' || group === 'reject') return decide(group, argv.slice(1));
  if (group === 'deploy') return deploy(argv.slice(1));
  if (group === 'rollback') return rollback(argv.slice(1));
  if (group === 'lifecycle' && cmd === 'start') return lifecycleStart(rest);
  if (group === 'lifecycle' && cmd === 'status' && rest[0]) {
    printLifecycle(await api.request<LifecycleView>('GET', `/v1/lifecycles/${rest[0]}`));
    return 0;
  }
  console.error(
    [
      'usage:',
      '  mloop dev up [--no-app] [--docker] | down | status',
      '  mloop setup',
      '  mloop lifecycle start --model NAME --repo URL|PATH [--ref REF] [--path DIR] --dataset FILE',
      '                        [--param k=v]... [--key KEY] [--wait]',
      '  mloop lifecycle status ID',
      '  mloop approve|reject ID [--comment TEXT]   (ID: lifecycle/<model>/<key> or deploy/<model>/<env>/<key>)',
      '  mloop deploy --model NAME (--version N | --alias A) --env staging|production [--backend process|docker]',
      '  mloop rollback --model NAME --reason TEXT',
      `  mloop token add --subject NAME --role ${roles.join('|')} [--role …]`,
      '',
      'The CLI sends MLOOP_TOKEN, or the token the API wrote on its first start to $MLOOP_DATA/auth/cli-token.',
    ].join('\n'),
  );
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`mloop: ${(err as Error).message}`);
    process.exit(1);
  },
);
