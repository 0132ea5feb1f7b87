import { datatypes, type FeatureSpec } from './v2-tensors';

/**
 * The binary tensor data extension of the Open Inference Protocol (as KServe, Triton and mloop's
 * server speak it): a JSON header of `Inference-Header-Content-Length` bytes, then the raw values
 * of each input that names its `parameters.binary_data_size`, in the order of `inputs`. Numbers
 * go as little-endian FP64/INT64 and text as a 4-byte length before each UTF-8 element, so a
 * batch is neither formatted nor parsed as JSON text, number by number. Responses come the same
 * way when the request asks for `binary_data_output`.
 */
export const binaryHeader = 'inference-header-content-length';
export const binaryExtension = 'binary_tensor_data';

interface HeaderTensor {
  name: string;
  shape: [number];
  datatype: string;
  parameters?: { binary_data_size: number };
  data?: (number | string | null)[];
}

/**
 * The request body for `rows`, binary where the extension can say the same as JSON: a number's
 * missing value is NaN, but INT64 and BYTES have no "missing", so a column with a missing
 * integer or text (or an integer past 2^53, which JSON keeps as written) goes as JSON data.
 * `columns` are the checked cells of `columnsOf`.
 */
export function encodeBinaryRequest(
  columns: readonly (number | string | null)[][],
  features: readonly FeatureSpec[],
): { body: Buffer; headerLength: number } {
  const inputs: HeaderTensor[] = [];
  const blobs: Buffer[] = [];
  features.forEach((f, i) => {
    const cells = columns[i] as (number | string | null)[];
    const blob = binaryColumn(cells, f.type);
    const base = { name: f.name, shape: [cells.length] as [number], datatype: datatypes[f.type] };
    if (blob) {
      inputs.push({ ...base, parameters: { binary_data_size: blob.length } });
      blobs.push(blob);
    } else {
      inputs.push({ ...base, data: cells });
    }
  });
  const header = Buffer.from(JSON.stringify({ inputs, parameters: { binary_data_output: true } }));
  return { body: Buffer.concat([header, ...blobs]), headerLength: header.length };
}

function binaryColumn(cells: (number | string | null)[], type: FeatureSpec['type']): Buffer | null {
  if (type === 'number') {
    const values = new Float64Array(cells.length);
    for (let i = 0; i < cells.length; i++) values[i] = cells[i] === null ? NaN : (cells[i] as number);
    return littleEndian(values);
  }
  if (cells.some((c) => c === null)) return null;
  if (type === 'integer') {
    if (!cells.every((c) => Number.isSafeInteger(c))) return null;
    return littleEndian(BigInt64Array.from(cells as number[], (c) => BigInt(c)));
  }
  const parts: Buffer[] = [];
  for (const c of cells as string[]) {
    const text = Buffer.from(c, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(text.length);
    parts.push(length, text);
  }
  return Buffer.concat(parts);
}

const bigEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

function littleEndian(values: Float64Array | BigInt64Array): Buffer {
  const buf = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  return bigEndianHost ? Buffer.from(buf).swap64() : buf;
}

/**
 * A binary infer response as the JSON form would have been: the header object with every binary
 * output's values put into its `data`. A malformed body is the server's fault: a plain Error.
 */
export function decodeBinaryResponse(body: Buffer, headerLength: number, what: string): unknown {
  const bad = (why: string): Error => new Error(`${what}: unexpected binary response, ${why}`);
  if (!Number.isInteger(headerLength) || headerLength <= 0 || headerLength > body.length)
    throw bad(`its JSON header length ${headerLength} does not fit a body of ${body.length} bytes`);
  let header: unknown;
  try {
    header = JSON.parse(body.subarray(0, headerLength).toString('utf8'));
  } catch {
    throw bad('its JSON header is not JSON');
  }
  const outputs = (header as { outputs?: unknown } | null)?.outputs;
  if (!Array.isArray(outputs)) return header;
  let offset = headerLength;
  for (const o of outputs as Array<Record<string, unknown>>) {
    const size = (o?.parameters as { binary_data_size?: unknown } | undefined)?.binary_data_size;
    if (size === undefined) continue;
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || offset + size > body.length)
      throw bad(`output ${String(o.name)} says binary_data_size ${String(size)}, past the end of the body`);
    o.data = binaryValues(body.subarray(offset, offset + size), String(o.datatype), bad);
    offset += size;
  }
  if (offset !== body.length) throw bad(`${body.length - offset} bytes after the last output`);
  return header;
}

const fixed: Record<string, [number, (b: Buffer, at: number) => number]> = {
  FP64: [8, (b, at) => b.readDoubleLE(at)],
  FP32: [4, (b, at) => b.readFloatLE(at)],
  INT64: [8, (b, at) => Number(b.readBigInt64LE(at))],
  INT32: [4, (b, at) => b.readInt32LE(at)],
  INT16: [2, (b, at) => b.readInt16LE(at)],
  INT8: [1, (b, at) => b.readInt8(at)],
  UINT64: [8, (b, at) => Number(b.readBigUInt64LE(at))],
  UINT32: [4, (b, at) => b.readUInt32LE(at)],
  UINT16: [2, (b, at) => b.readUInt16LE(at)],
  UINT8: [1, (b, at) => b.readUInt8(at)],
};

function binaryValues(raw: Buffer, datatype: string, bad: (why: string) => Error): (number | string | null)[] {
  if (datatype === 'BYTES') {
    const out: (string | null)[] = [];
    for (let at = 0; at < raw.length;) {
      if (at + 4 > raw.length) throw bad('a BYTES element is cut off in its length');
      const n = raw.readUInt32LE(at);
      if (at + 4 + n > raw.length) throw bad('a BYTES element is longer than its output');
      // Binary BYTES cannot say "missing": servers send a missing value as an empty element.
      out.push(n === 0 ? null : raw.toString('utf8', at + 4, at + 4 + n));
      at += 4 + n;
    }
    return out;
  }
  const spec = fixed[datatype];
  if (!spec) throw bad(`binary output of datatype ${datatype} is not supported`);
  const [size, read] = spec;
  if (raw.length % size !== 0) throw bad(`${raw.length} bytes are not whole ${datatype} values`);
  const out = new Array<number>(raw.length / size);
  for (let i = 0; i < out.length; i++) out[i] = read(raw, i * size);
  return out;
}
