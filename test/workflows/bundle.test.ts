import { bundleWorkflowCode } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowsPath } from '../../workers/create-workers';

describe('workflow bundle', () => {
  it('bundles every workflow for the sandbox (a Node built-in or non-deterministic import fails here)', async () => {
    const { code } = await bundleWorkflowCode({
      workflowsPath,
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    expect(code).toContain('modelLifecycle');
    expect(code).toContain('trainModel');
  });
});
