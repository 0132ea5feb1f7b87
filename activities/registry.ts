import type { ModelVersion, NewModelVersion, Registry } from '../core/registry/registry';
import { executionKeys } from './context';
import { withFailureMapping } from './failures';

export const createRegistryActivities = (deps: { registry: Registry }) =>
  withFailureMapping({
    /** Registers a model version; retries of the same activity return the same version. */
    async registerModelVersion(input: Omit<NewModelVersion, 'idempotencyKey' | 'workflowId' | 'runId'>): Promise<ModelVersion> {
      const { workflowId, runId, activityId } = executionKeys();
      return deps.registry.registerVersion({
        ...input,
        workflowId,
        runId,
        idempotencyKey: `${workflowId}/${runId}/${activityId}`,
      });
    },
  });
