import { invalidInput } from '../errors';

/** One deployment: a model served for one environment behind one stable endpoint. */
export interface DeploymentId {
  model: string;
  environment: string;
}

/** One model server of a deployment: a version, and which of its replicas. */
export interface InstanceId extends DeploymentId {
  version: number;
  replica: number;
}

// The registry's model names; environments are short words (staging, production, eu-prod).
const modelPattern = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const environmentPattern = /^[a-z][a-z0-9-]{0,31}$/;
const scopePattern = /^[a-z0-9]{1,16}$/;
const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

export function checkDeploymentId(id: DeploymentId): void {
  if (!modelPattern.test(id.model)) {
    throw invalidInput('model', `${show(id.model)} is not a model name (lowercase letters, digits, ".", "_", "-")`);
  }
  if (!environmentPattern.test(id.environment)) {
    const why = 'is not an environment name (a lowercase word, e.g. "staging")';
    throw invalidInput('environment', `${show(id.environment)} ${why}`);
  }
}

export function checkInstanceId(id: InstanceId): void {
  checkDeploymentId(id);
  if (!Number.isSafeInteger(id.version) || id.version < 1) {
    throw invalidInput('version', `${show(id.version)} is not a version number (1, 2, ...)`);
  }
  if (!Number.isSafeInteger(id.replica) || id.replica < 0 || id.replica > 99) {
    throw invalidInput('replica', `${show(id.replica)} is not a replica index (0 to 99)`);
  }
}

/**
 * The proxy's name of a deployment: `<model>.<environment>`. Unambiguous because environments
 * have no dot.
 */
export const endpointName = (id: DeploymentId): string => `${id.model}.${id.environment}`;

/**
 * The deterministic name of a model server, the same on every retry: the container's name on
 * Docker, the folder of a process, the server's name in the proxy. `scope` keeps two mloop
 * installations that share a Docker daemon apart.
 */
export function instanceName(scope: string, id: InstanceId): string {
  if (!scopePattern.test(scope)) {
    throw invalidInput('scope', `${show(scope)} must be 1 to 16 lowercase letters or digits`);
  }
  checkInstanceId(id);
  return `mloop-${scope}.${id.model}.${id.environment}.v${id.version}.r${id.replica}`;
}
