import type { Static } from '@sinclair/typebox';
import type { Command } from 'commander';
import type { PipelineList, PipelineStarted, PipelineStatusResponse } from '../../api/schemas/pipelines';
import { emit, type CliContext } from '../context';
import { usageError } from '../exit-codes';
import { readRequestFile } from '../lifecycle-request';
import { paths } from '../paths';
import { withJson, type JsonOpts } from './json-option';

type Status = Static<typeof PipelineStatusResponse>;
type Unit = NonNullable<Status['transforms']>[number];

/** One line per unit: what it is, its state, what it handled, and its lag. */
function unitLine(u: Unit): string {
  const counts = Object.entries(u.counts)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const lag = u.partitions.reduce((sum, p) => sum + (p.lag ?? 0), 0);
  const replica = u.replica > 0 ? `#${u.replica}` : '';
  const model = u.modelVersion ? ` v${u.modelVersion}` : '';
  const error = u.lastError ? `  last error: ${u.lastError}` : '';
  return (
    `  ${u.kind.padEnd(9)} ${`${u.name}${replica}${model}`.padEnd(28)} ${u.state.padEnd(10)} ` +
    `restarts ${u.restarts}  ${counts}  lag ${lag}${error}`
  );
}

function statusText(p: Status): string {
  const head = [`${p.name}  ${p.status}${p.state ? ` (${p.state})` : ''}`];
  if (p.guarantee) head.push(`guarantee    ${p.guarantee}`);
  if (p.startedAt) head.push(`started      ${p.startedAt}${p.requestedBy ? ` by ${p.requestedBy}` : ''}`);
  if (p.topics?.length) head.push(`topics       ${p.topics.join(', ')}`);
  const units = [...(p.sources ?? []), ...(p.transforms ?? []), ...(p.sinks ?? [])].map(unitLine);
  if (p.error) head.push(`error        ${p.error}`);
  return [...head, ...units].join('\n');
}

export function registerPipelines(program: Command, ctx: CliContext): void {
  const pipelines = program.command('pipelines').description('streaming pipelines: sources → transforms → sinks');

  withJson(pipelines.command('list', { isDefault: true }).description('running pipelines')).action(
    async (opts: JsonOpts) => {
      const answer = await ctx.api().get<Static<typeof PipelineList>>(paths.pipelines);
      emit(ctx, opts.json, answer, () =>
        answer.pipelines.length === 0
          ? 'no pipelines'
          : answer.pipelines.map((p) => `${p.name.padEnd(32)} running since ${p.startedAt}`).join('\n'),
      );
    },
  );

  withJson(pipelines.command('show').description('a pipeline: its state and every unit').argument('<name>')).action(
    async (name: string, opts: JsonOpts) => {
      const p = await ctx.api().get<Status>(paths.pipeline(name));
      emit(ctx, opts.json, p, () => statusText(p));
    },
  );

  withJson(
    pipelines
      .command('create')
      .description(
        'create and start a pipeline from its spec (YAML or JSON; schema core/pipeline/pipeline.schema.json)',
      )
      .requiredOption('-f, --file <spec.yaml>', 'the pipeline spec'),
  ).action(async (opts: JsonOpts & { file: string }) => {
    const spec = readRequestFile(opts.file);
    if (typeof spec.name !== 'string') throw usageError(`${opts.file}: field "name": is required`);
    const created = await ctx.api().request<Static<typeof PipelineStarted>>('POST', paths.pipelines, spec);
    emit(ctx, opts.json, created, () => `started ${created.id}; topics ${created.topics.join(', ')}`);
  });

  withJson(pipelines.command('delete').description('stop and remove a pipeline').argument('<name>')).action(
    async (name: string, opts: JsonOpts) => {
      const answer = await ctx.api().request<Status>('DELETE', paths.pipeline(name));
      emit(ctx, opts.json, answer, () => `stopped pipeline ${name}\n${statusText(answer)}`);
    },
  );
}
