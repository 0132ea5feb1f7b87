/**
 * JSON records with bounded nesting. `JSON.parse` itself copes with any depth, but everything
 * recursive after it (`JSON.stringify`, structured clone, Temporal's payloads) overflows the
 * stack on a value nested a few thousand levels deep. Records are flat rows of features, so a
 * small limit turns such a value into a bad record instead of a crash.
 */
export const maxJsonDepth = 64;

/**
 * Whether `text` nests arrays and objects more than `limit` levels deep. One pass, no
 * recursion; brackets inside strings do not count. Says nothing about whether it is valid JSON.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

export type ParsedObject = { ok: true; value: Record<string, unknown> } | { ok: false; reason: string };

/** A record's value as a JSON object, or why it is not one. */
export function parseJsonObject(text: string, limit = maxJsonDepth): ParsedObject {
  if (nestsDeeperThan(text, limit)) return { ok: false, reason: `nested more than ${limit} levels deep` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not a JSON object' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  return { ok: true, value: value as Record<string, unknown> };
}
