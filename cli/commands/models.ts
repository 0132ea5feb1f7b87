import type { Command } from 'commander';
import { emit, type CliContext } from '../context';
import { paths } from '../paths';
import { withJson, type JsonOpts } from './json-option';

interface ModelSummary {
  name: string;
  aliases?: Record<string, number>;
  latestVersion?: number | null;
}

interface VersionSummary {
  version: number;
  commitSha: string;
  metrics?: Record<string, number | null>;
  createdBy?: string;
  createdAt?: string;
}

export function registerModels(program: Command, ctx: CliContext): void {
  const models = program.command('models').description('registered models and their versions');

  withJson(
    models.command('list', { isDefault: true }).description('models with their aliases and latest version'),
  ).action(async (opts: JsonOpts) => {
    const answer = await ctx.api().get<{ models: ModelSummary[] }>(paths.models);
    emit(ctx, opts.json, answer, () =>
      answer.models.length === 0
        ? 'no models yet'
        : answer.models
            .map((m) => `${m.name.padEnd(32)} latest v${m.latestVersion ?? '-'}  ${aliasText(m.aliases)}`)
            .join('\n'),
    );
  });

  withJson(models.command('show').description('a model, its aliases and versions').argument('<name>')).action(
    async (name: string, opts: JsonOpts) => {
      const [model, versions] = await Promise.all([
        ctx.api().get<ModelSummary>(paths.model(name)),
        ctx.api().get<{ versions: VersionSummary[] }>(paths.versions(name)),
      ]);
      emit(ctx, opts.json, { ...model, versions: versions.versions }, () =>
        [
          `model      ${model.name}`,
          `aliases    ${aliasText(model.aliases)}`,
          ...versions.versions.map((v) => {
            const m = Object.entries(v.metrics ?? {}).map(([k, x]) => `${k}=${x === null ? 'n/a' : x.toFixed(4)}`);
            const who = `${v.createdBy ?? ''} ${v.createdAt ?? ''}`;
            return `v${String(v.version).padEnd(4)} ${v.commitSha.slice(0, 12)}  ${who}  ${m.join(' ')}`.trimEnd();
          }),
        ].join('\n'),
      );
    },
  );
}

const aliasText = (aliases: Record<string, number> | undefined): string =>
  Object.entries(aliases ?? {})
    .map(([a, v]) => `${a}=v${v}`)
    .join(' ') || 'no aliases';
