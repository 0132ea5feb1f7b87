import type { PartitionStatus } from '../kafka/transactions';
import { recordPipelineRecords, setPipelineLag, type PipelineOutcome } from './series';

/** Which of a unit's cumulative counters feed `mloop_pipeline_records_total`, and as what outcome. */
const outcomes: ReadonlyArray<[counter: string, outcome: PipelineOutcome]> = [
  ['produced', 'ok'],
  ['written', 'ok'],
  ['sent', 'ok'],
  ['deadLettered', 'dead_letter'],
  ['filtered', 'filtered'],
];

/**
 * Pipeline series from the cumulative counters a unit reports. Counters resume from a checkpoint
 * after a restart, so each unit's first figures in this process are its baseline: the process
 * counts only what it did itself, and a retry that reports the same totals again counts nothing.
 */
export class PipelineUnitFigures {
  private readonly seen = new Map<string, Record<string, number>>();

  /** `key` names the unit within its pipeline; `stage` labels the series (e.g. `transform:score`). */
  note(
    pipeline: string,
    key: string,
    stage: string,
    figures: { counts: Record<string, number>; partitions: readonly PartitionStatus[] },
  ): void {
    const id = `${pipeline}\u0000${key}`;
    const before = this.seen.get(id);
    const now: Record<string, number> = { ...before };
    for (const [counter, outcome] of outcomes) {
      const value = figures.counts[counter];
      if (value === undefined || !Number.isFinite(value)) continue;
      const delta = value - (before?.[counter] ?? value);
      if (delta > 0) recordPipelineRecords(pipeline, stage, outcome, delta);
      now[counter] = Math.max(value, before?.[counter] ?? value);
    }
    this.seen.set(id, now);
    const lags = figures.partitions.map((p) => p.lag).filter((l): l is number => l !== null);
    if (lags.length > 0)
      setPipelineLag(
        pipeline,
        stage,
        lags.reduce((a, b) => a + b, 0),
      );
  }

  /** The unit stopped: its lag series goes away. */
  stopped(pipeline: string, stage: string): void {
    setPipelineLag(pipeline, stage, null);
  }
}
