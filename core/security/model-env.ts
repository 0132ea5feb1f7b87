/**
 * The environment of a model process: an allow-list, never the worker's own environment,
 * which holds credentials (tokens, database passwords, cloud keys) that model code has no
 * business reading. Passed through: the search path, locale, time zone and the thread
 * settings of the numeric libraries; the runtime adds what it needs itself.
 */
const passedThrough = [/^PATH$/, /^LANG$/, /^LC_[A-Z_]+$/, /^TZ$/, /^OPENBLAS_[A-Z_]+$/, /^OMP_[A-Z_]+$/];

export interface ModelEnvPaths {
  /** Folders of the Python runtime package (PYTHONPATH). */
  pythonPath: string;
  /** A scratch home: the worker's HOME holds its own configuration. */
  home: string;
  tmp: string;
}

export function modelProcessEnv(from: NodeJS.ProcessEnv, paths: ModelEnvPaths): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(from)) {
    if (value !== undefined && passedThrough.some((p) => p.test(key))) env[key] = value;
  }
  return {
    ...env,
    PATH: env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: paths.home,
    TMPDIR: paths.tmp,
    PYTHONPATH: paths.pythonPath,
    PYTHONUNBUFFERED: '1',
    // Fixed, so pickled models that hold sets of strings come out byte-identical.
    PYTHONHASHSEED: '0',
    // Checkouts are read-only to model code, and a cache written into one would outlive the run.
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONNOUSERSITE: '1',
  };
}
