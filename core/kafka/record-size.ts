import type { StreamRecord } from './adapter';

/**
 * Sizes of records as the broker counts them against a topic's `max.message.bytes`: the whole
 * record batch (format v2, uncompressed), its 61-byte header included.
 */
const batchHeaderBytes = 61;

/** Bytes of a zigzag varint, as the record format writes lengths and deltas. */
function varintBytes(n: number): number {
  let z = n >= 0 ? 2 * n : -2 * n - 1;
  let bytes = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    bytes++;
  }
  return bytes;
}

const bytesField = (text: string | null): number => {
  if (text === null) return varintBytes(-1);
  const n = Buffer.byteLength(text);
  return varintBytes(n) + n;
};

/**
 * One record inside a batch at `offsetDelta`. The producer stamps a batch's records with one
 * time, so every timestamp delta is 0 (one byte).
 */
export function recordBytes(r: StreamRecord, offsetDelta = 0): number {
  let body = 1 + 1 + varintBytes(offsetDelta) + bytesField(r.key) + bytesField(r.value);
  const headers = Object.entries(r.headers ?? {});
  body += varintBytes(headers.length);
  for (const [k, v] of headers) body += bytesField(k) + bytesField(v);
  return varintBytes(body) + body;
}

/** A batch holding `records` in this order, as the broker measures it. */
export function batchBytes(records: readonly StreamRecord[]): number {
  return records.reduce((sum, r, i) => sum + recordBytes(r, i), batchHeaderBytes);
}

/** The longest prefix of `text` that is at most `maxBytes` in UTF-8 and ends on a whole character. */
export function clipUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = Math.max(0, maxBytes);
  // Step back over continuation bytes (10xxxxxx) to the start of the character cut in two.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** Key bytes a clipped record keeps when its value needs the room too. */
const minKeyBytes = 256;

/**
 * The record itself when a batch of it alone fits `maxBytes`; otherwise a copy whose key and
 * value are clipped to fit (the value keeps as much as it can, the key at least 256 bytes), with
 * `mloop-truncated` and the original sizes in its headers. Headers are never clipped.
 */
export function fitRecord(r: StreamRecord, maxBytes: number): StreamRecord {
  if (batchBytes([r]) <= maxBytes) return r;
  const keyBytes = r.key === null ? 0 : Buffer.byteLength(r.key);
  const valueBytes = Buffer.byteLength(r.value);
  const headers = {
    ...r.headers,
    'mloop-truncated': 'true',
    'mloop-original-key-bytes': String(keyBytes),
    'mloop-original-value-bytes': String(valueBytes),
  };
  // Room for key and value: the rest of the record, with 5-byte lengths reserved for both.
  const room = maxBytes - batchBytes([{ key: '', value: '', headers }]) - 10;
  if (room < 0) throw new RangeError(`the headers of a record alone take more than ${maxBytes} bytes`);
  const keyRoom = Math.min(keyBytes, room, Math.max(minKeyBytes, room - valueBytes));
  const key = r.key === null ? null : clipUtf8(r.key, keyRoom);
  const value = clipUtf8(r.value, room - (key === null ? 0 : Buffer.byteLength(key)));
  return { key, value, headers };
}
