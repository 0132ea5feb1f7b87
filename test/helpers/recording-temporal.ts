import { WorkflowNotFoundError, type Client } from '@temporalio/client';

interface Run {
  runId: string;
  memo: Record<string, unknown>;
}
/** A workflow's runs, oldest first: more than one after it continued as new. */
type Recorded = Run[];

/**
 * A Temporal client that records what the API asks of it, for tests that prove a request started
 * or signalled nothing (or sent an Update). It knows one running lifecycle, `lifecycle/pm/k1`, and
 * the workflows it was asked to start (a start of a known ID starts nothing, as with USE_EXISTING).
 * The real client is covered by the integration tests (lifecycles.int.test.ts, fuzz.int.test.ts).
 */
export function recordingTemporal(known = 'lifecycle/pm/k1'): {
  client: Client;
  starts: unknown[][];
  signals: unknown[][];
  updates: unknown[][];
  /** Workflows that exist, by ID: the known one and every one started. */
  workflows: Map<string, Recorded>;
  /** Continues a workflow as new, as Temporal does: a new run, and no memo carried over. */
  continueAsNew: (id: string) => void;
} {
  const starts: unknown[][] = [];
  const signals: unknown[][] = [];
  const updates: unknown[][] = [];
  const workflows = new Map<string, Recorded>([[known, [{ runId: 'run-1', memo: {} }]]]);
  let runs = 1;
  const client = {
    workflow: {
      start: async (...args: unknown[]) => {
        const options = args[1] as { workflowId: string; memo?: Record<string, unknown> };
        const existing = workflows.get(options.workflowId);
        if (existing) return { firstExecutionRunId: existing.at(-1)!.runId };
        starts.push(args);
        const runId = `run-${++runs}`;
        workflows.set(options.workflowId, [{ runId, memo: options.memo ?? {} }]);
        return { firstExecutionRunId: runId };
      },
      getHandle: (id: string, runId?: string) => ({
        workflowId: id,
        describe: async () => {
          const chain = workflows.get(id) ?? [];
          const w = runId === undefined ? chain.at(-1) : chain.find((r) => r.runId === runId);
          if (!w) throw new WorkflowNotFoundError(`workflow not found: ${id}`, id, runId);
          return {
            status: { name: w === chain.at(-1) ? 'RUNNING' : 'CONTINUED_AS_NEW' },
            runId: w.runId,
            memo: w.memo,
            raw: { workflowExecutionInfo: { firstRunId: chain[0]!.runId } },
            startTime: new Date(0),
            typedSearchAttributes: { get: () => undefined },
          };
        },
        signal: async (...args: unknown[]) => void signals.push([id, ...args]),
        executeUpdate: async (...args: unknown[]) => {
          if (id !== known) throw new WorkflowNotFoundError(`workflow not found: ${id}`, id, undefined);
          updates.push([id, ...args]);
          return { approved: true, by: 'recorded', at: new Date(0).toISOString() };
        },
        query: async () => ({ model: 'pm', stage: 'train' }),
        result: async () => undefined,
      }),
    },
    connection: { withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn() },
  } as unknown as Client;
  const continueAsNew = (id: string): void => {
    workflows.get(id)?.push({ runId: `run-${++runs}`, memo: {} });
  };
  return { client, starts, signals, updates, workflows, continueAsNew };
}
