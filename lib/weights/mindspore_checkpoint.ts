/**
 * Read and write MindSpore checkpoints (`.ckpt`), the format of the tutorial's pretrained ResNet50
 * (`resnet50_224_new.ckpt`). A checkpoint is one protobuf message:
 *
 * ```proto
 * message Checkpoint { message Value { required string tag = 1; required TensorProto tensor = 2; }
 *                      repeated Value value = 1; }
 * message TensorProto { repeated int64 dims = 1; required string tensor_type = 2; required bytes tensor_content = 3; }
 * ```
 *
 * MindSpore writes a large tensor as several consecutive values with the same tag, each holding a slice of
 * the bytes; they are joined here as MindSpore's `load_checkpoint` joins them. `dims` `[0]` marks a scalar.
 * Contents are little-endian; float types (and integers, by value) convert to Float32.
 *
 * @example
 * ```ts
 * import { decodeMindSporeCheckpoint, encodeMindSporeCheckpoint } from "./mindspore_checkpoint.ts";
 * const bytes = encodeMindSporeCheckpoint([{ name: "fc.bias", shape: [2], data: new Float32Array([1, 2]) }]);
 * decodeMindSporeCheckpoint(bytes, "tiny.ckpt").tensors.get("fc.bias")?.data; // Float32Array [1, 2]
 * ```
 * @module
 */
import { basename } from "node:path";
import protobuf from "protobufjs";
import { DTYPE_BYTES, type NamedTensor, type SafetensorsDtype, toFloat32 } from "./safetensors.ts";

/** The checkpoint schema, as in MindSpore's `checkpoint.proto`. */
export const CHECKPOINT_PROTO = `
syntax = "proto2";
message Checkpoint {
  message Value {
    required string tag = 1;
    required TensorProto tensor = 2;
  }
  repeated Value value = 1;
}
message TensorProto {
  repeated int64 dims = 1;
  required string tensor_type = 2;
  required bytes tensor_content = 3;
}
`;

/** MindSpore tensor types this reader converts, and the raw layout each one has. */
export const MINDSPORE_DTYPES: Readonly<Record<string, SafetensorsDtype>> = {
  Float32: "F32",
  Float16: "F16",
  BFloat16: "BF16",
  Float64: "F64",
  Int64: "I64",
  Int32: "I32",
  Int16: "I16",
  Int8: "I8",
  UInt8: "U8",
  Bool: "BOOL",
};

/** Bytes MindSpore puts in one value before it slices a tensor over several (`SLICE_SIZE`). */
export const MINDSPORE_SLICE_BYTES = 512 * 1024;

/** What a checkpoint holds. */
export interface MindSporeCheckpoint {
  /** The tensors by tag, converted to Float32. */
  tensors: Map<string, NamedTensor>;
  /** Tags whose type this reader does not convert (strings, `random_op`, unsigned 16–64-bit). */
  skipped: string[];
}

/** A malformed checkpoint; the message is one line naming the file and the fault. */
export class MindSporeCheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MindSporeCheckpointError";
  }
}

interface RawValue {
  tag: string;
  tensor: { dims: (number | { toNumber(): number })[]; tensor_type: string; tensor_content: Uint8Array };
}

let checkpointType: protobuf.Type | undefined;

/** The protobuf type of a whole checkpoint (parsed once from {@linkcode CHECKPOINT_PROTO}). */
export function checkpointMessageType(): protobuf.Type {
  checkpointType ??= protobuf.parse(CHECKPOINT_PROTO, { keepCase: true }).root.lookupType("Checkpoint");
  return checkpointType;
}

/**
 * Parse a MindSpore checkpoint held in memory. `source` names the file in error messages.
 *
 * Refuses, with one line each: an empty file, bytes that are not a checkpoint or are truncated (the protobuf
 * decoder runs out of bytes or misses a required field), a tensor whose bytes do not match its `dims` and
 * type, and a checkpoint with no tensors.
 *
 * @example
 * ```ts
 * const { tensors } = decodeMindSporeCheckpoint(await Deno.readFile("resnet50_224_new.ckpt"), "resnet50_224_new.ckpt");
 * tensors.get("norm.moving_variance")?.shape; // [64]
 * ```
 */
export function decodeMindSporeCheckpoint(bytes: Uint8Array, source = "<bytes>"): MindSporeCheckpoint {
  const file = basename(source);
  const fail = (message: string): never => {
    throw new MindSporeCheckpointError(`Cannot read ${file} as a MindSpore checkpoint: ${message}`);
  };
  if (bytes.byteLength === 0) fail("the file is empty");
  let values: RawValue[];
  try {
    const message = checkpointMessageType().decode(bytes) as unknown as { value: RawValue[] };
    values = message.value;
  } catch (err) {
    const why = (err as Error).message;
    const hint = /index out of range/.test(why) ? "truncated or not a checkpoint" : "not a checkpoint";
    return fail(`${hint} (protobuf: ${why})`);
  }
  if (values.length === 0) fail("it holds no tensors");

  const tensors = new Map<string, NamedTensor>();
  const skipped: string[] = [];
  for (let i = 0; i < values.length;) {
    const tag = values[i].tag;
    let j = i + 1;
    while (j < values.length && values[j].tag === tag) j++;
    const group = values.slice(i, j);
    i = j;
    const last = group[group.length - 1].tensor;
    const type = last.tensor_type;
    const dtype = MINDSPORE_DTYPES[type];
    if (tensors.has(tag)) fail(`tensor ${tag} appears twice, apart`);
    if (dtype === undefined || tag === "random_op") {
      skipped.push(tag);
      continue;
    }
    const dims = last.dims.map((d) => typeof d === "number" ? d : d.toNumber());
    if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor ${tag}: dims [${dims}] are not sizes`);
    }
    const scalar = dims.length === 0 || (dims.length === 1 && dims[0] === 0);
    const shape = scalar ? [] : dims;
    const count = scalar ? 1 : dims.reduce((a, b) => a * b, 1);
    const total = group.reduce((n, v) => n + v.tensor.tensor_content.byteLength, 0);
    const expected = count * DTYPE_BYTES[dtype];
    if (group.some((v) => v.tensor.tensor_type !== type)) {
      fail(`tensor ${tag}: its slices have different types`);
    }
    if (total !== expected) {
      fail(
        `tensor ${tag} holds ${total} bytes, expected ${expected} for dims [${dims}] of ${type} (truncated?)`,
      );
    }
    let content: Uint8Array;
    if (group.length === 1) content = group[0].tensor.tensor_content;
    else {
      content = new Uint8Array(total);
      let at = 0;
      for (const v of group) {
        content.set(v.tensor.tensor_content, at);
        at += v.tensor.tensor_content.byteLength;
      }
    }
    tensors.set(tag, { name: tag, shape, dtype: type, data: toFloat32(content, dtype) });
  }
  return { tensors, skipped };
}

/** One tensor to write with {@linkcode encodeMindSporeCheckpoint} (stored as Float32). */
export interface CheckpointTensor {
  /** The tag, e.g. `layer1.0.norm1.gamma`. */
  name: string;
  /** Its shape; `[]` is written as MindSpore writes a scalar, dims `[0]`. */
  shape: number[];
  /** Row-major values. */
  data: Float32Array;
}

/**
 * Serialize tensors as a MindSpore checkpoint of Float32 tensors, slicing each tensor's bytes over several
 * values of `sliceBytes` (MindSpore's 512 KiB by default) as MindSpore does.
 *
 * @example
 * ```ts
 * await Deno.writeFile("tiny.ckpt", encodeMindSporeCheckpoint([{ name: "w", shape: [1], data: new Float32Array([1]) }]));
 * ```
 */
export function encodeMindSporeCheckpoint(
  tensors: readonly CheckpointTensor[],
  options: { sliceBytes?: number } = {},
): Uint8Array {
  const sliceBytes = options.sliceBytes ?? MINDSPORE_SLICE_BYTES;
  const value: unknown[] = [];
  for (const t of tensors) {
    const bytes = new Uint8Array(t.data.byteLength);
    const view = new DataView(bytes.buffer);
    t.data.forEach((x, k) => view.setFloat32(k * 4, x, true));
    const dims = t.shape.length === 0 ? [0] : t.shape;
    const slices = Math.max(1, Math.ceil(bytes.byteLength / sliceBytes));
    for (let s = 0; s < slices; s++) {
      // slice on element boundaries, as np.array_split does
      const from = Math.floor((s * t.data.length) / slices) * 4;
      const to = Math.floor(((s + 1) * t.data.length) / slices) * 4;
      value.push({
        tag: t.name,
        tensor: { dims, tensor_type: "Float32", tensor_content: bytes.subarray(from, to) },
      });
    }
  }
  const type = checkpointMessageType();
  return type.encode(type.fromObject({ value })).finish();
}
