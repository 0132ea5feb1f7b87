import fs from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { MloopError } from '../errors';
import type { FeatureSpec } from '../serving/v2-tensors';

/** A feature as the manifest declares it: its type and, when declared, its range or categories. */
interface DeclaredFeature {
  name: string;
  type: FeatureSpec['type'];
  min?: number;
  max?: number;
  categories?: string[];
}

/** The row a new release scores before it takes traffic, and the features to send it as. */
export interface SmokeRequest {
  features: FeatureSpec[];
  row: Record<string, number | string>;
}

const types = new Set(['number', 'integer', 'string']);
const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/**
 * One valid row from the model's manifest: the middle of each declared range (whole for
 * integers), the first declared category, else 0 or "x". A value inside every declared limit,
 * so a refusal means the server is broken, not the row.
 */
export function smokeRequest(features: DeclaredFeature[]): SmokeRequest {
  const row: Record<string, number | string> = {};
  for (const f of features) {
    if (f.type === 'string') {
      row[f.name] = f.categories?.[0] ?? 'x';
      continue;
    }
    const lo = finite(f.min) ? f.min : undefined;
    const hi = finite(f.max) ? f.max : undefined;
    let x = lo !== undefined && hi !== undefined ? lo + (hi - lo) / 2 : (lo ?? hi ?? 0);
    if (f.type === 'integer') x = lo !== undefined ? Math.max(lo, Math.floor(x)) : Math.floor(x);
    row[f.name] = x;
  }
  return { features: features.map(({ name, type }) => ({ name, type })), row };
}

/** Reads the features of `mloop.yaml` in a model folder (the runtime validated it at training). */
export async function smokeRequestFor(modelDir: string): Promise<SmokeRequest> {
  const file = path.join(modelDir, 'mloop.yaml');
  const manifest = parse(await fs.readFile(file, 'utf8'), { maxAliasCount: 100 }) as { features?: unknown } | null;
  const declared = Array.isArray(manifest?.features) ? manifest.features : [];
  const features: DeclaredFeature[] = [];
  for (const [i, f] of declared.entries()) {
    const item = f as Partial<DeclaredFeature> | null;
    if (!item || typeof item.name !== 'string' || !types.has(String(item.type))) {
      throw new MloopError('InvalidManifest', `${file}: features[${i}] has no name or type the runtime knows`);
    }
    features.push({
      name: item.name,
      type: item.type as FeatureSpec['type'],
      ...(finite(item.min) ? { min: item.min } : {}),
      ...(finite(item.max) ? { max: item.max } : {}),
      ...(Array.isArray(item.categories) ? { categories: item.categories.map(String) } : {}),
    });
  }
  if (features.length === 0)
    throw new MloopError('InvalidManifest', `${file}: declares no features to build a smoke request from`);
  return smokeRequest(features);
}
