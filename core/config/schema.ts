import { Type, type TSchema } from '@sinclair/typebox';

/** The processes that read a setting; the reference says which. */
export type ConfigReader = 'api' | 'worker' | 'cli';

/**
 * What every setting's schema carries besides its type: the phrase an error quotes after
 * "expected", the reference's description, a default spelled out when it depends on other
 * settings, and whether the value is a secret that no message may repeat.
 */
export interface SettingMeta {
  expected: string;
  description: string;
  group: ConfigGroup;
  usedBy: ConfigReader[];
  /** The default in words when it is computed (`default` holds constant ones). */
  defaultText?: string;
  secret?: boolean;
  /** For lists: what separates the items in the environment. */
  separator?: string;
}

export type ConfigGroup = 'Servers' | 'Storage' | 'API' | 'Worker' | 'Deployments' | 'Access' | 'Command line';
export const configGroups: ConfigGroup[] = [
  'Servers',
  'Storage',
  'API',
  'Worker',
  'Access',
  'Deployments',
  'Command line',
];

type Meta = Omit<SettingMeta, 'expected' | 'separator'> & { default?: unknown };

const port = (m: Meta, opts: { allowZero?: boolean } = {}) =>
  Type.Integer({
    minimum: opts.allowZero ? 0 : 1,
    maximum: 65535,
    expected: opts.allowZero ? 'a port 0–65535' : 'a port 1–65535',
    ...m,
  });
const text = (m: Meta, pattern = '\\S', expected = 'a non-empty text') => Type.String({ pattern, expected, ...m });
const filePath = (m: Meta) => Type.String({ pattern: '\\S', expected: 'a file or folder path', ...m });
const hostPortPattern = '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9._-]+):[0-9]{1,5}$';
const hostPort = (m: Meta) => Type.String({ pattern: hostPortPattern, expected: 'host:port', ...m });
const httpUrl = (m: Meta) =>
  Type.String({ pattern: '^https?://[^\\s/?#]+(/\\S*)?$', expected: 'an http:// or https:// URL', ...m });
/** A list: `of` names its items in the plural, for messages and the reference. */
const list = <T extends TSchema>(item: T, separator: string, of: string, m: Meta) =>
  Type.Array(item, { separator, expected: `${of}, "${separator}"-separated`, ...m });
const integer = (min: number, max: number, unit: string, m: Meta) =>
  Type.Integer({ minimum: min, maximum: max, expected: `a whole number of ${unit} ${min}–${max}`, ...m });

const all: ConfigReader[] = ['api', 'worker', 'cli'];
const server: ConfigReader[] = ['api', 'worker'];
const roles = ['control', 'train', 'stream'] as const;

/**
 * Every setting mloop's processes read, by the name it has in the environment and in the
 * configuration file (MLOOP_CONFIG). One definition validates both sources and generates
 * docs/CONFIGURATION.md (`npm run docs:config`).
 */
export const ConfigSchema = Type.Object(
  {
    TEMPORAL_ADDRESS: Type.Optional(
      hostPort({
        group: 'Servers',
        usedBy: all,
        defaultText: '`127.0.0.1:$TEMPORAL_PORT`',
        description: 'The Temporal frontend to connect to; set it to use a server you already run.',
      }),
    ),
    TEMPORAL_PORT: Type.Optional(
      port({ group: 'Servers', usedBy: all, default: 7233, description: 'The embedded dev server’s port.' }),
    ),
    TEMPORAL_NAMESPACE: Type.Optional(
      text({ group: 'Servers', usedBy: all, default: 'default', description: 'The Temporal namespace.' }),
    ),
    TEMPORAL_UI_URL: Type.Optional(
      httpUrl({
        group: 'Servers',
        usedBy: ['api'],
        defaultText: '`http://127.0.0.1:$TEMPORAL_UI_PORT`',
        description: 'The Temporal Web UI, for the links the API hands out.',
      }),
    ),
    TEMPORAL_UI_PORT: Type.Optional(
      port({ group: 'Servers', usedBy: ['api'], default: 8233, description: 'The embedded Web UI’s port.' }),
    ),
    KAFKA_BROKERS: Type.Optional(
      list(hostPort({ group: 'Servers', usedBy: [], description: '' }), ',', 'host:port pairs', {
        group: 'Servers',
        usedBy: server,
        defaultText: '`127.0.0.1:$KAFKA_PORT`',
        description: 'The Kafka bootstrap brokers; set it to use a cluster you already run.',
      }),
    ),
    KAFKA_PORT: Type.Optional(
      port({ group: 'Servers', usedBy: server, default: 9092, description: 'The embedded broker’s port.' }),
    ),
    POSTGRES_URL: Type.Optional(
      Type.String({
        pattern: '^postgres(ql)?://\\S+$',
        expected: 'a postgres:// URL',
        group: 'Servers',
        usedBy: ['worker'],
        secret: true,
        defaultText: '`postgres://mloop@127.0.0.1:$POSTGRES_PORT/mloop`',
        description: 'The database of pipelines’ PostgreSQL sinks that name no `url` of their own.',
      }),
    ),
    POSTGRES_PORT: Type.Optional(
      port({ group: 'Servers', usedBy: ['worker'], default: 55432, description: 'The embedded PostgreSQL’s port.' }),
    ),
    MLOOP_DATA: Type.Optional(
      filePath({
        group: 'Storage',
        usedBy: all,
        defaultText: '`.mloop/` in the checkout',
        description:
          'Runtime state: registry, artifacts, tokens, deployments (relative paths from the current folder).',
      }),
    ),
    MLOOP_CACHE: Type.Optional(
      filePath({
        group: 'Storage',
        usedBy: all,
        defaultText: '`~/.cache/mloop`',
        description: 'Downloads, builds, the Python venv, repository clones.',
      }),
    ),
    MLOOP_PYTHON: Type.Optional(
      filePath({
        group: 'Storage',
        usedBy: ['worker'],
        defaultText: '`$MLOOP_CACHE/venv/bin/python`',
        description: 'The Python interpreter that runs model code (the venv setup made).',
      }),
    ),
    MLOOP_ALLOWED_ROOTS: Type.Optional(
      list(
        Type.String({ pattern: '^/', expected: 'an absolute path', group: 'Storage', usedBy: [], description: '' }),
        ':',
        'absolute paths',
        {
          group: 'Storage',
          usedBy: server,
          defaultText: '`$MLOOP_DATA` and `examples/`',
          description: 'Folders local repositories and datasets must resolve into (symlinks followed).',
        },
      ),
    ),
    MLOOP_API_HOST: Type.Optional(
      text({ group: 'API', usedBy: ['api'], default: '127.0.0.1', description: 'The address the API listens on.' }),
    ),
    MLOOP_API_PORT: Type.Optional(
      port({ group: 'API', usedBy: ['api', 'cli'], default: 8080, description: 'The port the API listens on.' }),
    ),
    MLOOP_API_ALLOWED_HOSTS: Type.Optional(
      list(
        Type.String({
          pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$',
          expected: 'a host name or an IP address, with an optional :port',
          group: 'API',
          usedBy: [],
          description: '',
        }),
        ',',
        'host names or IP addresses, each with an optional :port',
        {
          group: 'API',
          usedBy: ['api'],
          defaultText: 'none',
          description: '`Host` names the API answers to besides loopback and its bind address (DNS rebinding guard).',
        },
      ),
    ),
    MLOOP_READY_TIMEOUT_MS: Type.Optional(
      integer(50, 60_000, 'milliseconds', {
        group: 'API',
        usedBy: ['api'],
        default: 2000,
        description: 'How long `/readyz` waits for each dependency before it counts it as unreachable.',
      }),
    ),
    MLOOP_WORKER_ROLES: Type.Optional(
      list(
        Type.Union([Type.Literal('control'), Type.Literal('train'), Type.Literal('stream')], {
          expected: `one of ${roles.join(', ')}`,
          group: 'Worker',
          usedBy: [],
          description: '',
        }),
        ',',
        'roles (control, train, stream)',
        {
          group: 'Worker',
          usedBy: ['worker'],
          default: [...roles],
          description: 'The task queues this worker process serves.',
        },
      ),
    ),
    MLOOP_TASK_QUEUE_CONTROL: Type.Optional(
      text({
        group: 'Worker',
        usedBy: ['api', 'worker'],
        default: 'mloop-control',
        description: 'Workflows and short activities.',
      }),
    ),
    MLOOP_TASK_QUEUE_TRAIN: Type.Optional(
      text({
        group: 'Worker',
        usedBy: ['api', 'worker'],
        default: 'mloop-train',
        description: 'Training (CPU-bound).',
      }),
    ),
    MLOOP_TASK_QUEUE_STREAM: Type.Optional(
      text({
        group: 'Worker',
        usedBy: ['api', 'worker'],
        default: 'mloop-stream',
        description: 'Shadow tests and streams.',
      }),
    ),
    MLOOP_STREAM_CONCURRENCY: Type.Optional(
      integer(1, 10_000, 'activities', {
        group: 'Worker',
        usedBy: ['worker'],
        default: 64,
        description:
          'Stream activities (pipeline units, shadow tests) one worker process runs at once; ' +
          'each unit holds a slot while it runs.',
      }),
    ),
    MLOOP_HEALTH_SILENT_AFTER_SECONDS: Type.Optional(
      integer(1, 86_400, 'seconds', {
        group: 'Worker',
        usedBy: ['worker'],
        default: 90,
        description:
          'A drift check’s health part alerts on a running pipeline transform that has not reported ' +
          'for longer (a dead worker); keep it above the pipelines’ report interval.',
      }),
    ),
    MLOOP_WORKER_METRICS_HOST: Type.Optional(
      text({
        group: 'Worker',
        usedBy: ['worker'],
        default: '127.0.0.1',
        description: 'The address of the worker’s `/metrics` and `/healthz` listener.',
      }),
    ),
    MLOOP_WORKER_METRICS_PORT: Type.Optional(
      port(
        {
          group: 'Worker',
          usedBy: ['worker'],
          default: 9464,
          description: 'Its port (each worker on a machine needs its own); `0` picks a free one, printed at start.',
        },
        { allowZero: true },
      ),
    ),
    MLOOP_WORKER_SDK_METRICS_PORT: Type.Optional(
      port(
        {
          group: 'Worker',
          usedBy: ['worker'],
          default: 0,
          description:
            'Loopback port of the Temporal SDK’s own Prometheus exporter, merged into the worker’s `/metrics`; ' +
            '`0` picks a free one.',
        },
        { allowZero: true },
      ),
    ),
    MLOOP_RUNNER_USER: Type.Optional(
      text(
        {
          group: 'Worker',
          usedBy: ['worker'],
          default: 'mloop-runner',
          description: 'The account model code runs as when the worker runs as root.',
        },
        '^[a-z_][a-z0-9_-]{0,31}$',
        'a user name ([a-z_][a-z0-9_-]*, at most 32 characters)',
      ),
    ),
    MLOOP_TOKENS_FILE: Type.Optional(
      filePath({
        group: 'Access',
        usedBy: ['api', 'cli'],
        defaultText: '`$MLOOP_DATA/auth/tokens.json`',
        description: 'The token file (sha256 of each token); when set, the API creates none.',
      }),
    ),
    MLOOP_TOKENS: Type.Optional(
      text({
        group: 'Access',
        usedBy: ['api'],
        secret: true,
        defaultText: 'none',
        description:
          'More token entries in the file’s JSON format (e.g. for containers); when set, the API creates no file.',
      }),
    ),
    MLOOP_CLI_TOKEN_FILE: Type.Optional(
      filePath({
        group: 'Access',
        usedBy: ['api', 'cli'],
        defaultText: '`$MLOOP_DATA/auth/cli-token`',
        description: 'Where the first start writes the local user’s token, which the CLI sends.',
      }),
    ),
    MLOOP_PROXY_PORT: Type.Optional(
      port({
        group: 'Deployments',
        usedBy: ['worker'],
        default: 8090,
        description: 'HAProxy’s own port (its `/healthz`) in front of deployments.',
      }),
    ),
    MLOOP_DEPLOY_SCOPE: Type.Optional(
      text(
        {
          group: 'Deployments',
          usedBy: ['worker'],
          defaultText: 'a hash of `$MLOOP_DATA`',
          description: 'Keeps installations sharing a Docker daemon apart in container names and labels.',
        },
        '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$',
        'letters, digits, `_`, `.` or `-`, at most 63',
      ),
    ),
    MLOOP_BASE_IMAGE: Type.Optional(
      text({
        group: 'Deployments',
        usedBy: ['worker'],
        default: 'python:3.11-slim',
        description: 'What model images start from (`mloop/base:bookworm-python3` without an image registry).',
      }),
    ),
    MLOOP_BASE_IMAGE_TARBALL: Type.Optional(
      filePath({
        group: 'Deployments',
        usedBy: ['worker'],
        defaultText: 'the local base image’s tarball in `$MLOOP_CACHE` when that image is named',
        description: 'A root file system tarball imported as the base image when the daemon lacks it.',
      }),
    ),
    MLOOP_IMAGE_PYTHON: Type.Optional(
      text(
        {
          group: 'Deployments',
          usedBy: ['worker'],
          default: '3.11',
          description: 'The base image’s Python version, which wheels are fetched for.',
        },
        '^3\\.[0-9]{1,2}$',
        'a Python version such as 3.11',
      ),
    ),
    MLOOP_API_URL: Type.Optional(
      httpUrl({
        group: 'Command line',
        usedBy: ['cli'],
        defaultText: '`http://127.0.0.1:$MLOOP_API_PORT`',
        description: 'The API the CLI talks to.',
      }),
    ),
    MLOOP_TOKEN: Type.Optional(
      text({
        group: 'Command line',
        usedBy: ['cli'],
        secret: true,
        defaultText: 'the token in `$MLOOP_CLI_TOKEN_FILE`',
        description: 'The bearer token the CLI sends.',
      }),
    ),
  },
  { additionalProperties: false },
);

export type SettingName = keyof typeof ConfigSchema.properties;
export const settingNames = Object.keys(ConfigSchema.properties) as SettingName[];

/** The names of the environment variable and the file that are not settings themselves. */
export const configFileVariable = 'MLOOP_CONFIG';

export function metaOf(schema: TSchema): SettingMeta {
  return schema as unknown as SettingMeta;
}
