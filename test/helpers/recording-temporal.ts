import { WorkflowNotFoundError, type Client } from '@temporalio/client';

/**
 * A Temporal client that records what the API asks of it, for tests that prove a request started
 * or signalled nothing (or sent an Update). It knows one running lifecycle, `lifecycle/pm/k1`. The real client is
 * covered by the integration tests (lifecycles.int.test.ts, fuzz.int.test.ts).
 */
export function recordingTemporal(known = 'lifecycle/pm/k1'): {
  client: Client;
  starts: unknown[][];
  signals: unknown[][];
  updates: unknown[][];
} {
  const starts: unknown[][] = [];
  const signals: unknown[][] = [];
  const updates: unknown[][] = [];
  const client = {
    workflow: {
      start: async (...args: unknown[]) => {
        starts.push(args);
        return { firstExecutionRunId: 'run-1' };
      },
      getHandle: (id: string) => ({
        describe: async () => {
          if (id !== known) throw new WorkflowNotFoundError(`workflow not found: ${id}`, id, undefined);
          return {
            status: { name: 'RUNNING' },
            runId: 'run-1',
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
      }),
    },
    connection: { withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn() },
  } as unknown as Client;
  return { client, starts, signals, updates };
}
