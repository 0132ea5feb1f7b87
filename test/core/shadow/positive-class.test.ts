import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startingCheckpoint } from '../../../activities/shadow';
import type { Registry } from '../../../core/registry/registry';
import {
  applyLabel,
  applyScored,
  report,
  resumeShadow,
  shadowCheckpoint,
  type Prediction,
} from '../../../core/shadow/metrics';
import { judgeShadow } from '../../../core/shadow/thresholds';
import { newVersion, openTestRegistry } from '../../helpers/registry';

/**
 * A shadow test scores precision, recall and f1 of the positive class recorded with the
 * candidate's version (training's choice), not of a fixed "1".
 */
describe('shadow metrics: the positive class of the version', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await openTestRegistry('shadow-positive-class');
  });
  afterAll(async () => registry.close());

  /** A shadow test of a freshly registered version over `labels`, the candidate predicting `predict(label)`. */
  async function shadowOf(
    positiveClass: Prediction | null | undefined,
    labels: Prediction[],
    predict: (l: Prediction) => Prediction,
  ) {
    const model = `m-${String(positiveClass)}-${labels.length}`;
    const overrides = positiveClass === undefined ? {} : { positiveClass };
    const v = await registry.registerVersion(newVersion(model, `${model}-1`, overrides));
    const { state } = await startingCheckpoint(registry, {
      model,
      task: 'classification',
      candidate: {
        version: v.version,
        commitSha: v.commitSha,
        repoUrl: v.repoUrl,
        repoPath: v.repoPath,
        artifactDigest: v.artifactDigest,
      },
      config: { inputTopic: 'in', stopAfter: {}, thresholds: {} },
      inputOffsets: { 0: '0' },
      labelOffsets: { 0: '0' },
    });
    const scored = labels.map((label, i) => ({
      key: `k${i}`,
      partition: 0,
      offset: String(i),
      timestampMs: i,
      candidate: { prediction: predict(label), latencyMs: 1 },
    }));
    const joined = applyLabel(
      applyScored(state, scored),
      labels.map((label, i) => ({ key: `k${i}`, label, timestampMs: i, partition: 0, offset: String(i) })),
    );
    // The positive class travels with the checkpoint: a resumed test counts the same class.
    return report(resumeShadow(JSON.parse(JSON.stringify(shadowCheckpoint(joined)))).state, 1);
  }

  it('gives a perfect candidate with labels yes/no an f1 of 1', async () => {
    const r = await shadowOf('yes', ['yes', 'no', 'no', 'yes', 'no'], (l) => l);
    expect(r.candidate.metrics).toEqual({ accuracy: 1, precision: 1, recall: 1, f1: 1 });
    expect(r.positiveClass).toBe('yes');
  });

  it('gives a candidate that never predicts 2 (labels 1/2, positive 2) a recall of 0', async () => {
    const r = await shadowOf(2, [1, 2, 2, 1, 2], () => 1);
    expect(r.candidate.metrics).toEqual({ accuracy: 0.4, precision: 0, recall: 0, f1: 0 });
    expect(r.candidate.confusion).toEqual({ truePositives: 0, falsePositives: 0, trueNegatives: 2, falseNegatives: 3 });
    expect(r.positiveClass).toBe('2');
  });

  it('reports no precision, recall or f1 for a version without a recorded positive class', async () => {
    const r = await shadowOf(undefined, [1, 0, 1], (l) => l);
    expect(r.positiveClass).toBeNull();
    expect(r.candidate.metrics).toEqual({ accuracy: 1, precision: null, recall: null, f1: null });
    expect(r.candidate.confusion).toBeUndefined();
    const verdict = judgeShadow({ ...r, champion: r.candidate }, { maxErrorIncrease: { max: 0, metric: 'f1' } });
    expect(verdict.reasons).toEqual([
      'f1 cannot be compared: candidate f1 is not measured and champion f1 is not measured (3 labelled messages)',
    ]);
  });
});
