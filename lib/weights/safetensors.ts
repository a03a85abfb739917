/**
 * Read and write the safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of
 * JSON header `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: {...} }`, then the
 * tensors' raw little-endian bytes. torchvision and timm state dicts convert to it with one line of Python.
 *
 * Every read is bounds-checked; a bad file is refused with one line naming the file and the tensor.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors([{ name: "fc.bias", shape: [2], data: new Float32Array([1, 2]) }]);
 * const tensors = decodeSafetensors(bytes, "fc.safetensors");
 * console.log(tensors.get("fc.bias")?.data); // Float32Array [1, 2]
 * ```
 * @module
 */
import { basename } from "node:path";

/** Bytes of the little-endian u64 header length at the start of the file. */
export const HEADER_LENGTH_BYTES = 8;
/** The largest header this reader accepts (the reference implementation's limit), in bytes. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Element types and their sizes in bytes. Floats convert to Float32; integers to Float32 by value. */
export const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;
/** A safetensors element type this reader understands. */
export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

/** One tensor read from a file, converted to Float32. */
export interface NamedTensor {
  /** The tensor's name in the file, e.g. `layer1.0.conv1.weight`. */
  name: string;
  /** Its shape, outermost first (row-major). */
  shape: number[];
  /** Its values, row-major, converted to Float32. */
  data: Float32Array;
  /** The element type it was stored with (`F32`, `F16`, `BF16`, `Float32`, …). */
  dtype: string;
}

/** One tensor to write with {@linkcode encodeSafetensors}. */
export interface TensorToWrite {
  /** The tensor's name. */
  name: string;
  /** Its shape. */
  shape: number[];
  /** Row-major values. */
  data: Float32Array;
  /** Element type to store; `F32` by default (`I64` stores integer values, e.g. `num_batches_tracked`). */
  dtype?: "F32" | "F16" | "BF16" | "I64";
}

/** Whether this machine stores numbers little-endian (then typed arrays can view file bytes directly). */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Half-precision bits to a number. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** A number to half-precision bits (round to nearest even). */
export function floatToHalf(value: number): number {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    if (rest > midpoint || (rest === midpoint && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++; // a carry into the exponent is correct
  return sign | half;
}

/**
 * Little-endian raw bytes of `dtype` to Float32 values.
 *
 * @example
 * ```ts
 * toFloat32(new Uint8Array([0x00, 0x3c]), "F16"); // Float32Array [1]
 * ```
 */
export function toFloat32(bytes: Uint8Array, dtype: SafetensorsDtype): Float32Array {
  const size = DTYPE_BYTES[dtype];
  const count = bytes.byteLength / size;
  if (dtype === "F32" && HOST_LITTLE_ENDIAN) {
    const copy = new Uint8Array(bytes.byteLength); // aligned, and never a view of a larger (Node) buffer
    copy.set(bytes);
    return new Float32Array(copy.buffer);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * size;
    switch (dtype) {
      case "F64":
        out[i] = view.getFloat64(at, true);
        break;
      case "F32":
        out[i] = view.getFloat32(at, true);
        break;
      case "F16":
        out[i] = halfToFloat(view.getUint16(at, true));
        break;
      case "BF16":
        out[i] = new Float32Array(new Uint32Array([view.getUint16(at, true) << 16]).buffer)[0];
        break;
      case "I64":
        out[i] = Number(view.getBigInt64(at, true));
        break;
      case "I32":
        out[i] = view.getInt32(at, true);
        break;
      case "I16":
        out[i] = view.getInt16(at, true);
        break;
      case "I8":
        out[i] = view.getInt8(at);
        break;
      case "U8":
      case "BOOL":
        out[i] = view.getUint8(at);
        break;
    }
  }
  return out;
}

function fail(file: string, message: string): never {
  throw new SafetensorsError(`Cannot read ${file} as safetensors: ${message}`);
}

/** A malformed safetensors file; the message is one line naming the file and the fault. */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SafetensorsError";
  }
}

function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/**
 * Whether `bytes` look like a safetensors file: a sane header length followed by a JSON object.
 *
 * @example
 * ```ts
 * looksLikeSafetensors(new Uint8Array(4)); // false
 * ```
 */
export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.byteLength < HEADER_LENGTH_BYTES + 2) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  return n >= 2n && n <= BigInt(bytes.byteLength - HEADER_LENGTH_BYTES) &&
    bytes[HEADER_LENGTH_BYTES] === 0x7b;
}

/**
 * Parse a safetensors file held in memory. Every tensor is converted to Float32 (F32, F16, BF16, F64 and
 * the integer types by value). `source` names the file in error messages.
 *
 * Checks: the header length fits the file, the header is a JSON object, every entry has a known dtype, a
 * shape and `data_offsets` whose span equals the shape's element count times the dtype's size, and the
 * tensors tile the data area exactly (no overlap, no gap, nothing past the end), as the reference reader does.
 *
 * @example
 * ```ts
 * const tensors = decodeSafetensors(await Deno.readFile("resnet50.safetensors"), "resnet50.safetensors");
 * tensors.get("conv1.weight")?.shape; // [64, 3, 7, 7]
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, source = "<bytes>"): Map<string, NamedTensor> {
  const file = basename(source);
  if (bytes.byteLength < HEADER_LENGTH_BYTES) {
    fail(file, `the file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  const available = bytes.byteLength - HEADER_LENGTH_BYTES;
  if (headerLength > BigInt(available)) {
    fail(file, `the header length ${headerLength} exceeds the ${available} bytes after it (truncated file?)`);
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    fail(file, `the header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const n = Number(headerLength);
  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(HEADER_LENGTH_BYTES, HEADER_LENGTH_BYTES + n),
    );
    header = JSON.parse(text);
  } catch (err) {
    fail(file, `the ${n}-byte header is not UTF-8 JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail(file, "the header is not a JSON object");
  }
  const dataStart = HEADER_LENGTH_BYTES + n;
  const dataLength = bytes.byteLength - dataStart;
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] =
    [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") continue;
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (info === null || typeof info !== "object") fail(file, `tensor ${name}: the entry is not an object`);
    const dtype = info.dtype;
    if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES)) {
      fail(
        file,
        `tensor ${name}: unsupported dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTES)})`,
      );
    }
    if (!isShape(info.shape)) {
      fail(file, `tensor ${name}: shape ${JSON.stringify(info.shape)} is not a list of sizes`);
    }
    const offsets = info.data_offsets;
    if (
      !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) =>
        Number.isSafeInteger(o) && o >= 0
      ) ||
      offsets[0] > offsets[1]
    ) {
      fail(
        file,
        `tensor ${name}: data_offsets ${JSON.stringify(offsets)} is not [begin, end] with begin <= end`,
      );
    }
    const [begin, end] = offsets as [number, number];
    const elements = info.shape.reduce((a, b) => a * b, 1);
    const expected = elements * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (end - begin !== expected) {
      fail(
        file,
        `tensor ${name}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, expected ${expected} ` +
          `for shape [${info.shape}] of ${dtype}`,
      );
    }
    if (end > dataLength) {
      fail(
        file,
        `tensor ${name}: data_offsets end ${end} is past the ${dataLength}-byte data area (truncated file?)`,
      );
    }
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape: info.shape, begin, end });
  }
  const ordered = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const entry of ordered) {
    if (entry.begin !== cursor) {
      fail(
        file,
        `tensor ${entry.name}: data_offsets begin ${entry.begin}, expected ${cursor} (tensors overlap or leave a gap)`,
      );
    }
    cursor = entry.end;
  }
  if (cursor !== dataLength) {
    fail(file, `the tensors cover ${cursor} bytes but the data area holds ${dataLength} (trailing bytes)`);
  }
  const tensors = new Map<string, NamedTensor>();
  for (const entry of entries) {
    const raw = bytes.subarray(dataStart + entry.begin, dataStart + entry.end);
    tensors.set(entry.name, {
      name: entry.name,
      shape: entry.shape,
      dtype: entry.dtype,
      data: toFloat32(raw, entry.dtype),
    });
  }
  return tensors;
}

/**
 * Serialize tensors as safetensors (header keys in the given order, data 8-byte aligned via header padding).
 *
 * @example
 * ```ts
 * const bytes = encodeSafetensors([{ name: "w", shape: [1], data: new Float32Array([0.5]), dtype: "F16" }]);
 * ```
 */
export function encodeSafetensors(
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const payloads: Uint8Array[] = [];
  for (const t of tensors) {
    const dtype = t.dtype ?? "F32";
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new SafetensorsError(
        `Cannot write tensor ${t.name}: shape [${t.shape}] holds ${count} values, got ${t.data.length}`,
      );
    }
    const size = DTYPE_BYTES[dtype];
    const out = new Uint8Array(count * size);
    const view = new DataView(out.buffer);
    for (let i = 0; i < count; i++) {
      if (dtype === "F32") view.setFloat32(i * 4, t.data[i], true);
      else if (dtype === "F16") view.setUint16(i * 2, floatToHalf(t.data[i]), true);
      else if (dtype === "I64") view.setBigInt64(i * 8, BigInt(Math.trunc(t.data[i])), true);
      else view.setUint16(i * 2, bf16Bits(t.data[i]), true);
    }
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + out.byteLength] };
    payloads.push(out);
    offset += out.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((HEADER_LENGTH_BYTES + json.length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const result = new Uint8Array(HEADER_LENGTH_BYTES + headerBytes.byteLength + offset);
  new DataView(result.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  result.set(headerBytes, HEADER_LENGTH_BYTES);
  let at = HEADER_LENGTH_BYTES + headerBytes.byteLength;
  for (const p of payloads) {
    result.set(p, at);
    at += p.byteLength;
  }
  return result;
}

/** A number to bfloat16 bits (round to nearest even). */
function bf16Bits(value: number): number {
  const x = new Uint32Array(new Float32Array([value]).buffer)[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return 0x7fc0;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}
