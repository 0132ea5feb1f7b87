import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { sha256File } from '../artifacts/store';
import { invalidInput, MloopError } from '../errors';
import { withFileLock } from './file-lock';
import { normalDigest, type InstanceSpec } from './runtime';
import { collectWheels, type WheelhouseOptions } from './wheelhouse';

/** Where things are inside model images. */
export const imagePaths = {
  python: '/opt/mloop/venv/bin/python',
  app: '/opt/mloop/app',
  runtime: '/opt/mloop/app/runtime',
  model: '/opt/mloop/app/model',
  artifact: '/opt/mloop/app/artifact/model.joblib',
} as const;

/** The unprivileged user model servers run as (no name needed: it owns nothing in the image). */
export const imageUser = '10001:10001';

export const labelKeys = {
  kind: 'io.mloop.kind',
  model: 'io.mloop.model',
  version: 'io.mloop.version',
  sha: 'io.mloop.sha',
  artifactDigest: 'io.mloop.artifact-digest',
  inputs: 'io.mloop.inputs',
} as const;

export interface ModelImageOptions {
  docker: Docker;
  /** The image model images start from: `python:3.11-slim` where a registry is reachable. */
  baseImage: string;
  /** A root file system tarball `docker import`ed as `baseImage` when the daemon lacks it. */
  baseImageTarball?: string;
  wheelhouse: WheelhouseOptions;
  /** This checkout's python/ folder: mloop_runtime and its requirements.txt. */
  runtimeDir: string;
  /** Scratch space for build contexts, and lock files. */
  workDir: string;
}

export interface BuiltImage {
  tag: string;
  id: string;
  /** False when the image was there already. */
  built: boolean;
}

const hashText = (...parts: string[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(`${p.length}:${p}`);
  return h.digest('hex');
};

const skipped = new Set(['.git', '__pycache__', 'node_modules', '.pytest_cache']);

/** A digest of a folder's files (names and contents), as copied into images. */
async function treeDigest(root: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (dir: string): Promise<void> => {
    const entries = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (skipped.has(e.name)) continue;
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) {
        h.update(`${path.relative(root, full)}\0`);
        for await (const chunk of createReadStream(full)) h.update(chunk as Buffer);
        h.update('\0');
      }
    }
  };
  await walk(root);
  return h.digest('hex');
}

const copyTree = (from: string, to: string): Promise<void> =>
  fs.cp(from, to, { recursive: true, filter: (src) => !skipped.has(path.basename(src)) });

const isNotFound = (err: unknown): boolean => (err as { statusCode?: number }).statusCode === 404;

/** The events of a build or pull stream; the first error event becomes an Error. */
async function follow(docker: Docker, stream: NodeJS.ReadableStream, what: string): Promise<string[]> {
  const events = await new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, res: Array<Record<string, unknown>>) =>
      err ? reject(err) : resolve(res),
    );
  });
  const lines = events
    .map((e) => (typeof e.stream === 'string' ? e.stream : typeof e.status === 'string' ? e.status : ''))
    .filter(Boolean);
  const failed = events.find((e) => e.error !== undefined || e.errorDetail !== undefined);
  if (failed) {
    const tail = lines.join('').trim().split('\n').slice(-15).join('\n');
    throw new MloopError(
      'DeploymentFailed',
      `${what} failed: ${String(failed.error ?? JSON.stringify(failed.errorDetail))}\n${tail}`,
    );
  }
  return lines;
}

const dockerfileLabels = (labels: Record<string, string>): string =>
  'LABEL ' +
  Object.entries(labels)
    .map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`)
    .join(' ');

/**
 * Builds model images in two layers of images, each named by what goes into it and looked up
 * before it is built, so a retry never builds a second one:
 * - `mloop/deps:<hash>`: the base image with a venv of the runtime's and the model's
 *   requirements, installed with `pip install --no-index` from wheels of the host-side
 *   wheelhouse; shared by every version with the same requirements;
 * - `mloop/model-<model>:v<version>-<hash>`: that plus the model code at its commit, the
 *   registered artifact and mloop_runtime, labelled with model, version, commit and digest.
 * Few Dockerfile steps on purpose: with the vfs storage driver every step copies the whole
 * file system.
 */
export class ModelImageBuilder {
  private readonly lockDir: string;

  constructor(private readonly opts: ModelImageOptions) {
    this.lockDir = path.join(opts.workDir, 'locks');
  }

  private locked<T>(tag: string, fn: () => Promise<T>): Promise<T> {
    return fs
      .mkdir(this.lockDir, { recursive: true })
      .then(() =>
        withFileLock(path.join(this.lockDir, `${tag.replace(/[^A-Za-z0-9_.-]/g, '_')}.lock`), fn, 30 * 60_000),
      );
  }

  private async existing(tag: string): Promise<string | undefined> {
    try {
      return (await this.opts.docker.getImage(tag).inspect()).Id;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** The base image's id: imported from the tarball, or pulled, when the daemon lacks it. */
  async ensureBaseImage(): Promise<string> {
    const { docker, baseImage, baseImageTarball } = this.opts;
    return this.locked(baseImage, async () => {
      const id = await this.existing(baseImage);
      if (id) return id;
      if (baseImageTarball) {
        const tarball = await fs.stat(baseImageTarball).then(
          () => baseImageTarball,
          () => undefined,
        );
        if (!tarball) {
          throw new MloopError(
            'ToolchainMissing',
            `base image ${baseImage} is not in Docker and its tarball ${baseImageTarball} is missing: ` +
              'run "scripts/setup.sh --docker"',
          );
        }
        const [repo, tag] = baseImage.split(':');
        const stream = await docker.importImage(tarball, { repo, tag: tag ?? 'latest' });
        await follow(docker, stream, `importing ${tarball} as ${baseImage}`);
      } else {
        try {
          await follow(docker, await docker.pull(baseImage), `pulling ${baseImage}`);
        } catch (err) {
          const why = err instanceof Error ? err.message : String(err);
          throw new MloopError(
            'ToolchainMissing',
            `base image ${baseImage} is not in Docker and cannot be pulled (${why}); ` +
              'set MLOOP_BASE_IMAGE to an image the daemon has',
          );
        }
      }
      const imported = await this.existing(baseImage);
      if (!imported)
        throw new MloopError('ToolchainMissing', `base image ${baseImage} is still missing after loading it`);
      return imported;
    });
  }

  /** The image with the venv for these requirements. */
  async ensureDepsImage(modelRequirements: string | undefined): Promise<BuiltImage> {
    const baseId = await this.ensureBaseImage();
    const runtimeRequirements = path.join(this.opts.runtimeDir, 'requirements.txt');
    const files = modelRequirements ? [runtimeRequirements, modelRequirements] : [runtimeRequirements];
    const names = ['runtime-requirements.txt', 'model-requirements.txt'].slice(0, files.length);
    const recipe = [
      `FROM ${this.opts.baseImage}`,
      'COPY build /tmp/mloop-build',
      'RUN python3 -m venv /opt/mloop/venv && /opt/mloop/venv/bin/pip install --no-index \\',
      '    --find-links /tmp/mloop-build/wheels --no-cache-dir --disable-pip-version-check --quiet \\',
      `    ${names.map((n) => `-r /tmp/mloop-build/${n}`).join(' ')} && rm -rf /tmp/mloop-build`,
      `ENV PYTHONPATH=${imagePaths.runtime} PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \\`,
      '    PYTHONHASHSEED=0 HOME=/tmp',
      `USER ${imageUser}`,
    ];
    const texts = await Promise.all(files.map((f) => fs.readFile(f, 'utf8')));
    const inputs = hashText(baseId, this.opts.wheelhouse.pythonVersion, recipe.join('\n'), ...texts);
    const tag = `mloop/deps:${inputs.slice(0, 16)}`;
    return this.locked(tag, async () => {
      const id = await this.existing(tag);
      if (id) return { tag, id, built: false };
      const dir = await fs.mkdtemp(path.join(this.opts.workDir, 'deps-'));
      try {
        const build = path.join(dir, 'build');
        await fs.mkdir(build);
        for (const [i, file] of files.entries()) await fs.copyFile(file, path.join(build, names[i] ?? ''));
        await collectWheels(this.opts.wheelhouse, files, path.join(build, 'wheels'));
        const labels = dockerfileLabels({ [labelKeys.kind]: 'deps', [labelKeys.inputs]: inputs });
        await fs.writeFile(path.join(dir, 'Dockerfile'), [...recipe, labels].join('\n') + '\n');
        return await this.build(dir, tag, `building ${tag}`);
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });
  }

  /** The image of one model version. */
  async ensureModelImage(spec: InstanceSpec): Promise<BuiltImage> {
    const manifest = path.join(spec.modelDir, 'mloop.yaml');
    if (
      !(await fs.stat(manifest).then(
        (s) => s.isFile(),
        () => false,
      ))
    ) {
      throw invalidInput('modelDir', `${spec.modelDir} has no mloop.yaml`);
    }
    const digest = normalDigest(spec.artifactDigest);
    const actual = `sha256:${await sha256File(spec.artifactPath)}`;
    if (actual !== digest)
      throw invalidInput('artifactPath', `${spec.artifactPath} has digest ${actual}, not ${digest}`);
    const requirements = path.join(spec.modelDir, 'requirements.txt');
    const hasRequirements = await fs.stat(requirements).then(
      (s) => s.isFile(),
      () => false,
    );
    const deps = await this.ensureDepsImage(hasRequirements ? requirements : undefined);
    const runtimeSource = path.join(this.opts.runtimeDir, 'mloop_runtime');
    const inputs = hashText(
      deps.id,
      await treeDigest(runtimeSource),
      await treeDigest(spec.modelDir),
      digest,
      spec.sha,
    );
    const tag = `mloop/model-${spec.model}:v${spec.version}-${inputs.slice(0, 12)}`;
    return this.locked(tag, async () => {
      const id = await this.existing(tag);
      if (id) return { tag, id, built: false };
      const dir = await fs.mkdtemp(path.join(this.opts.workDir, 'model-'));
      try {
        await copyTree(runtimeSource, path.join(dir, 'app', 'runtime', 'mloop_runtime'));
        await copyTree(spec.modelDir, path.join(dir, 'app', 'model'));
        await fs.mkdir(path.join(dir, 'app', 'artifact'));
        await fs.copyFile(spec.artifactPath, path.join(dir, 'app', 'artifact', 'model.joblib'));
        await fs.chmod(path.join(dir, 'app', 'artifact', 'model.joblib'), 0o444);
        const labels = {
          [labelKeys.kind]: 'model',
          [labelKeys.model]: spec.model,
          [labelKeys.version]: String(spec.version),
          [labelKeys.sha]: spec.sha,
          [labelKeys.artifactDigest]: digest,
          [labelKeys.inputs]: inputs,
        };
        await fs.writeFile(
          path.join(dir, 'Dockerfile'),
          [`FROM ${deps.tag}`, `COPY app ${imagePaths.app}`, dockerfileLabels(labels)].join('\n') + '\n',
        );
        return await this.build(dir, tag, `building ${tag}`);
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });
  }

  private async build(dir: string, tag: string, what: string): Promise<BuiltImage> {
    const entries = await fs.readdir(dir);
    const stream = await this.opts.docker.buildImage(
      { context: dir, src: entries },
      { t: tag, rm: true, forcerm: true, pull: false },
    );
    await follow(this.opts.docker, stream, what);
    const id = await this.existing(tag);
    if (!id) throw new Error(`${what}: the build finished but ${tag} is not there`);
    return { tag, id, built: true };
  }
}
