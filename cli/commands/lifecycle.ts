import type { Command } from 'commander';
import { emit, type CliContext } from '../context';
import { CliError, exitCodes } from '../exit-codes';
import { followLifecycle } from '../follow';
import { buildLifecycleRequest } from '../lifecycle-request';
import { describeLifecycle, outcomeOf, type LifecycleView } from '../lifecycle-view';
import { paths } from '../paths';
import { withJson, type JsonOpts } from './json-option';

interface StartOpts extends JsonOpts {
  file?: string;
  model?: string;
  repo?: string;
  ref?: string;
  path?: string;
  dataset?: string;
  param?: string[];
  key?: string;
  follow?: boolean;
  wait?: boolean;
  interval: string;
}

const collect = (v: string, all: string[] = []): string[] => [...all, v];

export function registerLifecycle(program: Command, ctx: CliContext): void {
  const lifecycle = program.command('lifecycle').description('start and inspect model lifecycles');

  withJson(
    lifecycle
      .command('start')
      .description('start a lifecycle from a request file and/or flags (flags win over the file)')
      .option('-f, --file <lifecycle.yaml>', 'the request as YAML or JSON (schema: docs/schemas/lifecycle.schema.json)')
      .option('--model <name>', 'model name')
      .option('--repo <url|path>', 'git repository of the model code')
      .option('--ref <ref>', 'branch, tag or commit (default HEAD)')
      .option('--path <dir>', 'folder of the model inside the repository')
      .option('--dataset <file>', 'CSV or Parquet file to train on')
      .option('--param <key=value>', 'training parameter over the manifest defaults (repeatable)', collect)
      .option('--key <key>', 'idempotency key: the same key starts the same lifecycle once')
      .option('--follow', 'show live progress until the lifecycle ends; exit 0 only if it succeeded')
      .option('--wait', 'wait silently until the lifecycle ends, then print it; exit like --follow')
      .option('--interval <ms>', 'how often --follow and --wait poll', '1000'),
  ).action(async (opts: StartOpts) => {
    const body = buildLifecycleRequest(opts.file, opts);
    const interval = Number(opts.interval);
    if (!Number.isInteger(interval) || interval < 50) {
      throw new CliError(
        `--interval must be a whole number of milliseconds from 50 (got "${opts.interval}")`,
        exitCodes.usage,
      );
    }
    const started = await ctx.api().request<{ id: string; links: { webUi: string } }>('POST', paths.lifecycles, body);
    const streaming = opts.json && opts.follow;
    if (streaming) ctx.out.write(`${JSON.stringify(started)}\n`);
    else emit(ctx, opts.json && !opts.wait, started, () => `started ${started.id}\nweb ui  ${started.links.webUi}`);
    if (!opts.follow && !opts.wait) return;
    const shadow = body.shadow as { stopAfter?: { messages?: number } } | undefined;
    const view = opts.follow
      ? await followLifecycle(ctx.api(), started.id, {
          intervalMs: interval,
          tty: Boolean(ctx.out.isTTY) && !opts.json,
          json: opts.json,
          shadowTarget: shadow?.stopAfter?.messages,
          write: (t) => ctx.out.write(t),
        })
      : await waitForEnd(ctx, started.id, interval);
    finish(ctx, view, opts.json, Boolean(streaming));
  });

  withJson(
    lifecycle
      .command('status')
      .description('state, stage, progress, result or error of a lifecycle')
      .argument('<id>', 'lifecycle/<model>/<key>'),
  ).action(async (id: string, opts: JsonOpts) => showStatus(ctx, id, opts));
}

/** `mloop status ID`, the short form of `mloop lifecycle status ID`. */
export function registerStatus(program: Command, ctx: CliContext): void {
  withJson(
    program.command('status').description('the same as "lifecycle status"').argument('<id>', 'lifecycle/<model>/<key>'),
  ).action(async (id: string, opts: JsonOpts) => showStatus(ctx, id, opts));
}

async function showStatus(ctx: CliContext, id: string, opts: JsonOpts): Promise<void> {
  const view = await ctx.api().get<LifecycleView>(paths.lifecycle(id));
  emit(ctx, opts.json, view, () => describeLifecycle(view));
}

async function waitForEnd(ctx: CliContext, id: string, intervalMs: number): Promise<LifecycleView> {
  for (;;) {
    const view = await ctx.api().get<LifecycleView>(paths.lifecycle(id));
    if (outcomeOf(view).finished) return view;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Prints the end of a lifecycle; a failed or aborted one becomes exit code 1 with the reason. */
function finish(ctx: CliContext, view: LifecycleView, json: boolean | undefined, streamed: boolean): void {
  if (!streamed) emit(ctx, json, view, () => describeLifecycle(view));
  const outcome = outcomeOf(view);
  if (outcome.finished && !outcome.ok)
    throw new CliError(`lifecycle ${view.id} did not succeed: ${outcome.why}`, exitCodes.failed);
}
