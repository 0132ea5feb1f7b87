import { randomBytes } from 'node:crypto';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localBaseImage } from '../../../core/config';
import { DockerRuntime } from '../../../core/deploy/docker-runtime';
import { labelKeys, ModelImageBuilder } from '../../../core/deploy/model-image';
import type { InstanceSpec } from '../../../core/deploy/runtime';
import { deployAndSwitch, trainTwoVersions } from '../../helpers/deployment';
import { startTestProxy, type TestProxy } from '../../helpers/proxy';
import { config, tempDir } from '../../helpers/stack';

// The shared development stack's dockerd (DOCKER_HOST), or the test command's own.
const docker = new Docker();
const scope = `t${randomBytes(3).toString('hex')}`;
const minutes = (n: number): number => n * 60_000;

/** Runs a command in the container as its default user; stdout and stderr together. */
async function execIn(id: string, cmd: string[]): Promise<string> {
  const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  await new Promise((r) => stream.on('end', r));
  const all = Buffer.concat(chunks);
  const out: string[] = [];
  for (let i = 0; i + 8 <= all.length;) {
    const size = all.readUInt32BE(i + 4);
    out.push(all.subarray(i + 8, i + 8 + size).toString());
    i += 8 + size;
  }
  return out.join('');
}

describe('docker backend behind the proxy (real dockerd, real HAProxy)', () => {
  let proxy: TestProxy;
  let specs: [InstanceSpec, InstanceSpec];
  let images: ModelImageBuilder;
  let runtime: DockerRuntime;

  beforeAll(async () => {
    [proxy, specs] = await Promise.all([startTestProxy('docker'), trainTwoVersions('pm-docker')]);
    const baseImage = process.env.MLOOP_BASE_IMAGE ?? localBaseImage;
    images = new ModelImageBuilder({
      docker,
      baseImage,
      baseImageTarball:
        baseImage === localBaseImage ? path.join(config.cacheDir, 'base-image', 'bookworm-python3.tar') : undefined,
      wheelhouse: {
        python: config.pythonExecutable,
        dir: path.join(config.cacheDir, 'wheelhouse'),
        pythonVersion: '3.11',
      },
      runtimeDir: config.runtimeDir,
      workDir: await tempDir('docker-images'),
    });
    runtime = new DockerRuntime({ docker, images, scope, stopTimeoutS: 10 });
    const started = Date.now();
    const deps = await images.ensureDepsImage(path.join(specs[0].modelDir, 'requirements.txt'));
    const size = (await docker.getImage(deps.tag).inspect()).Size;
    console.log(
      `deps image ${deps.tag}: ${deps.built ? 'built' : 'found'} in ${((Date.now() - started) / 1000).toFixed(0)} s, ` +
        `${(size / 1e6).toFixed(0)} MB`,
    );
  }, minutes(20));

  afterAll(async () => {
    const containers = await docker.listContainers({ all: true, filters: { label: [`io.mloop.scope=${scope}`] } });
    for (const c of containers) await docker.getContainer(c.Id).remove({ force: true });
    // This run's model images (its repository's commit is new each run); the deps image is kept.
    const label = (specs ?? []).slice(0, 1).map((s) => `${labelKeys.sha}=${s.sha}`);
    const leftovers = label.length > 0 ? await docker.listImages({ filters: { label } }) : [];
    for (const image of leftovers)
      await docker
        .getImage(image.Id)
        .remove({ force: true })
        .catch(() => undefined);
    await proxy?.destroy();
  }, minutes(2));

  it(
    'imports the base image from its tarball when the daemon lacks it',
    async () => {
      const tag = `mloop/base-import-test:${scope}`;
      const wheelhouse = {
        python: config.pythonExecutable,
        dir: path.join(config.cacheDir, 'wheelhouse'),
        pythonVersion: '3.11',
      };
      const common = { docker, wheelhouse, runtimeDir: config.runtimeDir, workDir: await tempDir('docker-import') };
      const tarball = path.join(config.cacheDir, 'base-image', 'bookworm-python3.tar');
      const importer = new ModelImageBuilder({ ...common, baseImage: tag, baseImageTarball: tarball });
      try {
        const id = await importer.ensureBaseImage();
        expect(id).toMatch(/^sha256:/);
        expect(await importer.ensureBaseImage()).toBe(id);
      } finally {
        await docker
          .getImage(tag)
          .remove({ force: true })
          .catch(() => undefined);
      }
      const missing = new ModelImageBuilder({
        ...common,
        baseImage: `mloop/nowhere:${scope}`,
        baseImageTarball: '/no/rootfs.tar',
      });
      await expect(missing.ensureBaseImage()).rejects.toThrow(
        /tarball \/no\/rootfs.tar is missing: run "scripts\/setup.sh --docker"/,
      );
    },
    minutes(3),
  );

  it(
    'builds one labelled image per version, found again instead of rebuilt',
    async () => {
      const started = Date.now();
      const first = await images.ensureModelImage(specs[0]);
      const seconds = (Date.now() - started) / 1000;
      const image = await docker.getImage(first.tag).inspect();
      console.log(
        `model image ${first.tag}: ${first.built ? 'built' : 'found'} in ${seconds.toFixed(0)} s, ` +
          `${(image.Size / 1e6).toFixed(0)} MB`,
      );
      expect(image.Config.Labels).toMatchObject({
        [labelKeys.model]: 'pm-docker',
        [labelKeys.version]: '1',
        [labelKeys.sha]: specs[0].sha,
        [labelKeys.artifactDigest]: specs[0].artifactDigest,
      });
      expect(image.Config.User).toBe('10001:10001');
      const [again, concurrent] = await Promise.all([
        images.ensureModelImage(specs[0]),
        images.ensureModelImage(specs[0]),
      ]);
      expect([again.built, concurrent.built]).toEqual([false, false]);
      expect(again.id).toBe(first.id);
      const tagged = await docker.listImages({
        filters: { label: [`${labelKeys.model}=pm-docker`, `${labelKeys.version}=1`] },
      });
      expect(tagged.filter((i) => i.Labels?.[labelKeys.sha] === specs[0].sha)).toHaveLength(1);
    },
    minutes(15),
  );

  it(
    'deploys, answers V2 (JSON, binary, tritonclient) on its stable endpoint, switches blue/green losing nothing',
    async () => {
      await deployAndSwitch(runtime, proxy.proxy, specs);
    },
    minutes(20),
  );

  it(
    'runs hardened containers: non-root, read-only, no capabilities, limits, no Docker socket',
    async () => {
      const instance = await runtime.ensure(specs[1]);
      const info = await docker.getContainer(instance.ref).inspect();
      expect(info.Name).toBe(`/mloop-${scope}.pm-docker.production.v2.r0`);
      expect(info.Config.User).toBe('10001:10001');
      expect(info.Config.Labels).toMatchObject({
        [labelKeys.sha]: specs[1].sha,
        [labelKeys.artifactDigest]: specs[1].artifactDigest,
      });
      const host = info.HostConfig;
      expect(host.ReadonlyRootfs).toBe(true);
      expect(host.CapDrop).toEqual(['ALL']);
      expect(host.CapAdd ?? []).toEqual([]);
      expect(host.Privileged).toBe(false);
      expect(host.SecurityOpt).toContain('no-new-privileges');
      expect(host.Memory).toBe(768 * 1024 * 1024);
      expect(host.NanoCpus).toBe(0.5e9);
      expect(host.PidsLimit).toBe(128);
      expect(host.Tmpfs).toEqual({ '/tmp': expect.stringContaining('noexec') });
      expect(host.Binds ?? []).toEqual([]);
      expect(info.Mounts).toEqual([]);
      expect(JSON.stringify(info)).not.toContain('docker.sock');
      // And inside: the kernel enforces it.
      const probe = await execIn(instance.ref, [
        '/opt/mloop/venv/bin/python',
        '-c',
        [
          'import os',
          'print("uid", os.getuid(), os.getgid())',
          'print([l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0])',
          'try:\n  open("/opt/mloop/app/x", "w")\nexcept OSError as e:\n  print("write", e.errno)',
          'print("tmp", open("/tmp/ok", "w").write("x"))',
        ].join('\n'),
      ]);
      expect(probe).toContain('uid 10001 10001');
      expect(probe).toContain('0000000000000000');
      expect(probe).toContain('write 30'); // EROFS
      expect(probe).toContain('tmp 1');
    },
    minutes(5),
  );

  it(
    'retries adopt the container: one per instance, even when asked twice at once',
    async () => {
      const [a, b] = await Promise.all([runtime.ensure(specs[1]), runtime.ensure(specs[1])]);
      expect(a.ref).toBe(b.ref);
      const named = await docker.listContainers({ all: true, filters: { label: [`io.mloop.instance=${a.name}`] } });
      expect(named).toHaveLength(1);
      expect((await runtime.list({ model: 'pm-docker' })).map((i) => i.version)).toEqual([2]);

      // A new instance asked for by two workers at once (two runtimes: no shared queue).
      const replica = { ...specs[1], replica: 1 };
      const other = new DockerRuntime({ docker, images, scope, stopTimeoutS: 10 });
      const [c, d] = await Promise.all([runtime.ensure(replica), other.ensure(replica)]);
      expect(c.ref).toBe(d.ref);
      const replicas = await docker.listContainers({ all: true, filters: { label: [`io.mloop.instance=${c.name}`] } });
      expect(replicas).toHaveLength(1);

      for (const spec of [specs[1], replica, specs[1]]) await runtime.remove(spec);
      expect(await runtime.get(specs[1])).toBeUndefined();
      expect(await runtime.list({ model: 'pm-docker' })).toEqual([]);
    },
    minutes(8),
  );
});
