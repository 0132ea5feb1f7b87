import type { Client } from '@temporalio/client';
import { progressIntervalMs } from '../core/progress-cadence';
import { trainProgressSignal, type TrainProgress } from '../workflows/definitions';

/**
 * Forwards a training run's progress to its lifecycle as signals, at the cadence of
 * `progressIntervalMs` for the run's age (a phase change goes at once), so the lifecycle's
 * `status` query shows live progress without flooding its history with one event per log line,
 * however long the training runs.
 */
export class ProgressReporter {
  private pending: TrainProgress | undefined;
  private log: string[] = [];
  private lastSent = 0;
  private readonly startedAt: number;
  private lastPhase = '';
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: Client,
    private readonly lifecycleId: string,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
  }

  progress(p: Omit<TrainProgress, 'log'>): void {
    const phaseKey = `${p.phase}/${p.status ?? ''}`;
    this.pending = { ...this.pending, ...p };
    if (phaseKey !== this.lastPhase) {
      this.lastPhase = phaseKey;
      this.send();
    } else this.maybeSend();
  }

  logLine(line: string): void {
    this.log.push(line);
    if (this.log.length > 50) this.log.splice(0, this.log.length - 50);
    this.maybeSend();
  }

  async flush(): Promise<void> {
    this.send();
    await this.sending;
  }

  private maybeSend(): void {
    const now = this.now();
    if (now - this.lastSent >= progressIntervalMs(now - this.startedAt)) this.send();
  }

  private send(): void {
    if (!this.pending && this.log.length === 0) return;
    const payload: TrainProgress = { phase: 'train', ...this.pending, ...(this.log.length ? { log: this.log } : {}) };
    this.log = [];
    this.lastSent = this.now();
    // Progress is best effort: a lifecycle that already closed must not fail the training.
    this.sending = this.sending.then(() =>
      this.client.workflow
        .getHandle(this.lifecycleId)
        .signal(trainProgressSignal, payload)
        .catch(() => undefined),
    );
  }
}
