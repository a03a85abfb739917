import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import {
  checkpointMessageType,
  decodeMindSporeCheckpoint,
  encodeMindSporeCheckpoint,
  MindSporeCheckpointError,
} from "../lib/weights/mindspore_checkpoint.ts";
import { buildResNet, namedWeights } from "../lib/model/resnet.ts";
import { exportNamedTensors, loadPretrainedInto } from "../lib/weights/weight_import.ts";
import { assertRejectsOneLine } from "./fixtures/assert_one_line.ts";

await tf.setBackend("cpu");

/** A raw checkpoint from values given as MindSpore writes them. */
function rawCheckpoint(
  values: { tag: string; dims: number[]; type: string; content: Uint8Array }[],
): Uint8Array {
  const type = checkpointMessageType();
  return type.encode(type.fromObject({
    value: values.map((v) => ({
      tag: v.tag,
      tensor: { dims: v.dims, tensor_type: v.type, tensor_content: v.content },
    })),
  })).finish();
}

const f32Bytes = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

function assertOneLine(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MindSporeCheckpointError, `expected MindSporeCheckpointError, got ${err}`);
    assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("a checkpoint round-trips, sliced tensors are joined and scalars read as MindSpore writes them", () => {
  const big = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
  const bytes = encodeMindSporeCheckpoint([
    { name: "layer1.0.conv1.weight", shape: [10, 4, 5, 5], data: big },
    { name: "learning_rate", shape: [], data: new Float32Array([0.001]) },
    { name: "fc.bias", shape: [3], data: new Float32Array([1, 2, 3]) },
  ], { sliceBytes: 512 });
  const message = checkpointMessageType().decode(bytes) as unknown as { value: { tag: string }[] };
  assert.equal(
    message.value.filter((v) => v.tag === "layer1.0.conv1.weight").length,
    8,
    "4000 bytes in 512-byte slices",
  );
  const { tensors, skipped } = decodeMindSporeCheckpoint(bytes, "x.ckpt");
  assert.deepEqual(skipped, []);
  assert.deepEqual(tensors.get("layer1.0.conv1.weight")!.shape, [10, 4, 5, 5]);
  assert.deepEqual(tensors.get("layer1.0.conv1.weight")!.data, big);
  assert.deepEqual(tensors.get("learning_rate")!.shape, []);
  assert.equal(tensors.get("learning_rate")!.data[0], Math.fround(0.001));
  assert.deepEqual(Array.from(tensors.get("fc.bias")!.data), [1, 2, 3]);
});

Deno.test("decodeMindSporeCheckpoint converts Float16 and Int32 and skips strings and random_op", () => {
  const half = new Uint8Array([0x00, 0x3c, 0x00, 0xc1]); // 1, -2.5
  const int = new Uint8Array(new Int32Array([7]).buffer);
  const bytes = rawCheckpoint([
    { tag: "h", dims: [2], type: "Float16", content: half },
    { tag: "global_step", dims: [1], type: "Int32", content: int },
    { tag: "name", dims: [0], type: "str", content: new TextEncoder().encode("abcd") },
    { tag: "random_op", dims: [4], type: "UInt8", content: new Uint8Array(4) },
  ]);
  const { tensors, skipped } = decodeMindSporeCheckpoint(bytes);
  assert.deepEqual(Array.from(tensors.get("h")!.data), [1, -2.5]);
  assert.deepEqual(Array.from(tensors.get("global_step")!.data), [7]);
  assert.deepEqual(skipped, ["name", "random_op"]);
});

Deno.test("decodeMindSporeCheckpoint refuses bad files with one line each", () => {
  const good = encodeMindSporeCheckpoint([
    { name: "conv1.weight", shape: [4, 3, 3, 3], data: new Float32Array(108).fill(0.5) },
    { name: "fc.bias", shape: [4], data: new Float32Array(4) },
  ]);
  assertOneLine(
    () => decodeMindSporeCheckpoint(new Uint8Array(0), "e.ckpt"),
    /^Cannot read e\.ckpt as a MindSpore checkpoint: the file is empty$/,
  );
  assertOneLine(
    () => decodeMindSporeCheckpoint(good.subarray(0, 200), "cut.ckpt"),
    /^Cannot read cut\.ckpt as a MindSpore checkpoint: truncated or not a checkpoint/,
  );
  assertOneLine(
    () => decodeMindSporeCheckpoint(new TextEncoder().encode("<html>Not Found</html>"), "page.ckpt"),
    /page\.ckpt as a MindSpore checkpoint: .*not a checkpoint/,
  );
  assertOneLine(
    () =>
      decodeMindSporeCheckpoint(
        rawCheckpoint([{ tag: "w", dims: [3], type: "Float32", content: f32Bytes([1, 2]) }]),
      ),
    /tensor w holds 8 bytes, expected 12 for dims \[3\] of Float32 \(truncated\?\)/,
  );
  // a value without its tensor (tag "w" only): a required field is missing
  const noTensor = new Uint8Array([0x0a, 0x03, 0x0a, 0x01, 0x77]);
  assertOneLine(
    () => decodeMindSporeCheckpoint(noTensor),
    /not a checkpoint \(protobuf: missing required 'tensor'\)/,
  );
  // a valid message with no values (only an unknown field)
  assertOneLine(
    () => decodeMindSporeCheckpoint(new Uint8Array([0x10, 0x01]), "none.ckpt"),
    /none\.ckpt .*: it holds no tensors$/,
  );
});

Deno.test("a checkpoint in the tutorial's naming imports into the model, optimizer state ignored", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = buildResNet("tiny", { numClasses: 10, seed: 11 });
    const tensors = await exportNamedTensors(source, "mindspore");
    const names = tensors.map((t) => t.name);
    for (
      const expected of [
        "conv1.weight",
        "norm.gamma",
        "norm.moving_variance",
        "layer1.0.norm3.beta",
        "layer1.0.down_sample.0.weight",
        "layer1.0.down_sample.1.moving_mean",
        "fc.weight",
        "fc.bias",
      ]
    ) {
      assert.ok(names.includes(expected), `tutorial name ${expected}`);
    }
    // what a MindSpore training run also saves beside the network
    const extras = [
      {
        name: "moments.conv1.weight",
        shape: tensors[0].shape,
        data: new Float32Array(tensors[0].data.length),
      },
      { name: "learning_rate", shape: [], data: new Float32Array([0.001]) },
      { name: "global_step", shape: [1], data: new Float32Array([195]) },
    ];
    const path = join(dir, "tiny.ckpt");
    await Deno.writeFile(path, encodeMindSporeCheckpoint([...tensors, ...extras], { sliceBytes: 4096 }));

    const target = buildResNet("tiny", { numClasses: 10, seed: 22 });
    const freshHead = await namedWeights(target).get("fc/kernel")!.data();
    const report = await loadPretrainedInto(target, path);
    assert.equal(report.format, "mindspore");
    assert.deepEqual(report.head, { layer: "fc", imported: false, sourceShape: [10, 256], shape: [256, 10] });
    assert.deepEqual(report.ignored.sort(), [
      "fc.bias",
      "fc.weight",
      "global_step",
      "learning_rate",
      "moments.conv1.weight",
    ]);
    const want = namedWeights(source);
    const got = namedWeights(target);
    for (const [name, variable] of got) {
      const actual = await variable.data();
      if (name.startsWith("fc/")) continue;
      assert.deepEqual(actual, await want.get(name)!.data(), name);
    }
    assert.deepEqual(await got.get("fc/kernel")!.data(), freshHead, "the head stays the model's own");
    assert.equal(report.tensorsLoaded, got.size - 2);

    const withHead = buildResNet("tiny", { numClasses: 10, seed: 33 });
    await loadPretrainedInto(withHead, path, { keepHead: true });
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 5);
    const a = await (source.predict(x) as tf.Tensor).data();
    const b = await (withHead.predict(x) as tf.Tensor).data();
    assert.deepEqual(b, a, "same weights, same logits");
    for (const m of [source, target, withHead]) m.dispose();
    x.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("importing a bad checkpoint is refused with one line, and nothing is set", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = buildResNet("tiny", { numClasses: 10, seed: 1 });
    const tensors = await exportNamedTensors(source, "mindspore");
    const target = buildResNet("tiny", { numClasses: 10, seed: 2 });
    const before = await namedWeights(target).get("conv1/kernel")!.data();

    const missing = join(dir, "missing.ckpt");
    await Deno.writeFile(
      missing,
      encodeMindSporeCheckpoint(tensors.filter((t) => t.name !== "layer2.0.norm2.moving_variance")),
    );
    await assertRejectsOneLine(
      () => loadPretrainedInto(target, missing),
      /^Cannot import missing\.ckpt: it has no layer2\.0\.norm2\.moving_variance for layer2\.0\.norm2\/moving_variance$/,
    );

    const wrong = join(dir, "wrong.ckpt");
    await Deno.writeFile(
      wrong,
      encodeMindSporeCheckpoint(
        tensors.map((t) =>
          t.name === "layer3.0.conv2.weight"
            ? { name: t.name, shape: [32, 16, 3, 3], data: new Float32Array(32 * 16 * 9) }
            : t
        ),
      ),
    );
    await assertRejectsOneLine(
      () => loadPretrainedInto(target, wrong),
      /^Cannot import layer3\.0\.conv2\.weight from wrong\.ckpt: shape \[32,16,3,3\] expected \[32,32,3,3\]$/,
    );

    const truncated = join(dir, "truncated.ckpt");
    const full = encodeMindSporeCheckpoint(tensors);
    await Deno.writeFile(truncated, full.subarray(0, full.length - 100));
    await assertRejectsOneLine(
      () => loadPretrainedInto(target, truncated),
      /^Cannot read truncated\.ckpt as a MindSpore checkpoint: truncated/,
    );

    assert.deepEqual(await namedWeights(target).get("conv1/kernel")!.data(), before, "no partial load");
    source.dispose();
    target.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
