import { parseJson } from './context';
import type { LineageColumns } from './schema';

/** Metric name → value; null when the metric is undefined for the run (e.g. AUC on one class). */
export type Metrics = Record<string, number | null>;

/** Where a model came from: shared by runs and versions, stored in the same columns in both. */
export interface Lineage {
  repoUrl: string;
  repoPath: string;
  commitSha: string;
  datasetUri: string;
  datasetFingerprint: string;
  params: Record<string, unknown>;
  metrics: Metrics;
}

export const lineageColumns = (l: Lineage): LineageColumns => ({
  repo_url: l.repoUrl,
  repo_path: l.repoPath,
  commit_sha: l.commitSha,
  dataset_uri: l.datasetUri,
  dataset_fingerprint: l.datasetFingerprint,
  params_json: JSON.stringify(l.params),
  metrics_json: JSON.stringify(l.metrics),
});

export const lineageOf = (r: LineageColumns): Lineage => ({
  repoUrl: r.repo_url,
  repoPath: r.repo_path,
  commitSha: r.commit_sha,
  datasetUri: r.dataset_uri,
  datasetFingerprint: r.dataset_fingerprint,
  params: parseJson<Record<string, unknown>>(r.params_json),
  metrics: parseJson<Metrics>(r.metrics_json),
});
