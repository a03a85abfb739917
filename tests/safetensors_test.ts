import assert from "node:assert/strict";
import {
  decodeSafetensors,
  encodeSafetensors,
  floatToHalf,
  halfToFloat,
  looksLikeSafetensors,
  SafetensorsError,
  toFloat32,
} from "../lib/weights/safetensors.ts";

const FIXTURE = new URL("./fixtures/mixed.safetensors", import.meta.url);

/** A safetensors file from a header object and a data area, as a hostile writer might make it. */
function rawFile(header: unknown, data: Uint8Array, headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function assertOneLine(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SafetensorsError, `expected SafetensorsError, got ${err}`);
    assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("decodeSafetensors reads a file written by PyTorch (F32, F16, BF16, I64)", async () => {
  const tensors = decodeSafetensors(await Deno.readFile(FIXTURE), "mixed.safetensors");
  assert.deepEqual([...tensors.keys()].sort(), ["bf16", "f16", "f32", "layer1.0.bn1.num_batches_tracked"]);
  const f32 = tensors.get("f32")!;
  assert.deepEqual(f32.shape, [2, 3]);
  assert.deepEqual(Array.from(f32.data), [0, 0.25, 0.5, 0.75, 1, 1.25]);
  const f16 = tensors.get("f16")!;
  assert.equal(f16.dtype, "F16");
  assert.deepEqual(Array.from(f16.data), [1, -2.5, 65504, 2 ** -24]);
  const bf16 = tensors.get("bf16")!;
  assert.deepEqual(bf16.shape, [1, 3]);
  assert.deepEqual(Array.from(bf16.data), [1, 3.140625, -0.0078125]);
  const count = tensors.get("layer1.0.bn1.num_batches_tracked")!;
  assert.deepEqual(count.shape, []);
  assert.deepEqual(Array.from(count.data), [12345]);
});

Deno.test("encodeSafetensors round-trips F32 exactly and F16/BF16 to their precision", () => {
  const values = new Float32Array([0, 1, -2.5, 0.1, 1e-3, 123.456, -65504]);
  const bytes = encodeSafetensors([
    { name: "a", shape: [7], data: values },
    { name: "b", shape: [7, 1], data: values, dtype: "F16" },
    { name: "c", shape: [1, 7], data: values, dtype: "BF16" },
  ], { format: "pt" });
  assert.equal(new DataView(bytes.buffer).getBigUint64(0, true) % 8n, 0n, "header padded to 8 bytes");
  const back = decodeSafetensors(bytes);
  assert.deepEqual(Array.from(back.get("a")!.data), Array.from(values));
  assert.deepEqual(back.get("b")!.shape, [7, 1]);
  back.get("b")!.data.forEach((x, i) =>
    assert.ok(Math.abs(x - values[i]) <= Math.abs(values[i]) * 2 ** -11 + 1e-7)
  );
  back.get("c")!.data.forEach((x, i) =>
    assert.ok(Math.abs(x - values[i]) <= Math.abs(values[i]) * 2 ** -8 + 1e-7)
  );
  assert.ok(looksLikeSafetensors(bytes));
  assert.ok(!looksLikeSafetensors(new Uint8Array([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])));
});

Deno.test("half-precision conversion handles subnormals, infinities, NaN and rounding", () => {
  assert.equal(halfToFloat(0x0001), 2 ** -24);
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.equal(halfToFloat(0xfc00), -Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.equal(halfToFloat(0x8000), -0);
  assert.equal(floatToHalf(65520), 0x7c00, "rounds past the largest half to infinity");
  assert.equal(floatToHalf(2 ** -25), 0, "ties to even at the bottom");
  assert.equal(floatToHalf(3 * 2 ** -25), 0x0002);
  for (let bits = 0; bits < 0x7c00; bits += 37) assert.equal(floatToHalf(halfToFloat(bits)), bits);
  assert.deepEqual(Array.from(toFloat32(new Uint8Array([0x80, 0x3f]), "BF16")), [1]);
});

Deno.test("decodeSafetensors refuses a malformed file with one line per fault", () => {
  const good = encodeSafetensors([{ name: "w", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }]);
  const four = new Uint8Array(16);
  assertOneLine(
    () => decodeSafetensors(new Uint8Array(5), "x.safetensors"),
    /x\.safetensors.*5 bytes, shorter/,
  );
  assertOneLine(
    () => decodeSafetensors(rawFile("{}", new Uint8Array(0), 1000)),
    /header length 1000 exceeds the 2/,
  );
  assertOneLine(() => decodeSafetensors(rawFile("{nope", new Uint8Array(0))), /not UTF-8 JSON/);
  assertOneLine(() => decodeSafetensors(rawFile("[1,2]", new Uint8Array(0))), /not a JSON object/);
  assertOneLine(
    () => decodeSafetensors(rawFile({ w: { dtype: "F8", shape: [4], data_offsets: [0, 4] } }, four)),
    /tensor w: unsupported dtype "F8"/,
  );
  assertOneLine(
    () => decodeSafetensors(rawFile({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, four)),
    /tensor w: shape \[-1\] is not a list of sizes/,
  );
  assertOneLine(
    () => decodeSafetensors(rawFile({ w: { dtype: "F32", shape: [4], data_offsets: [8, 4] } }, four)),
    /tensor w: data_offsets \[8,4\] is not \[begin, end\]/,
  );
  assertOneLine(
    () => decodeSafetensors(rawFile({ w: { dtype: "F32", shape: [3], data_offsets: [0, 16] } }, four)),
    /tensor w: data_offsets \[0, 16\] span 16 bytes, expected 12 for shape \[3\] of F32/,
  );
  assertOneLine(
    () => decodeSafetensors(rawFile({ w: { dtype: "F32", shape: [8], data_offsets: [0, 32] } }, four)),
    /tensor w: data_offsets end 32 is past the 16-byte data area \(truncated file\?\)/,
  );
  assertOneLine(
    () =>
      decodeSafetensors(
        rawFile({
          a: { dtype: "F32", shape: [3], data_offsets: [0, 12] },
          b: { dtype: "F32", shape: [2], data_offsets: [8, 16] },
        }, four),
      ),
    /tensor b: data_offsets begin 8, expected 12 \(tensors overlap or leave a gap\)/,
  );
  assertOneLine(
    () => decodeSafetensors(rawFile({ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, four)),
    /cover 8 bytes but the data area holds 16 \(trailing bytes\)/,
  );
  // a download cut short: the data area ends inside the last tensor
  assertOneLine(
    () => decodeSafetensors(good.subarray(0, good.length - 3), "cut.safetensors"),
    /cut\.safetensors.*tensor w.*past/,
  );
  // cut inside the header
  assertOneLine(
    () => decodeSafetensors(good.subarray(0, 20), "cut.safetensors"),
    /header length \d+ exceeds/,
  );
});
