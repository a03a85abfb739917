/**
 * The weight import checked against PyTorch: tools/make_torch_fixture.py makes seeded torchvision ResNets
 * with randomized batch norms, saves their state dicts as safetensors with eval-mode logits and features of a
 * fixed batch, and the imported tfjs model must give the same numbers. Needs Debian's python3-torch and
 * python3-torchvision (`PYTHON` names another interpreter).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import { encodeMindSporeCheckpoint } from "../lib/weights/mindspore_checkpoint.ts";
import { buildResNet, namedWeights } from "../lib/model/resnet.ts";
import { decodeSafetensors, encodeSafetensors } from "../lib/weights/safetensors.ts";
import { exportNamedTensors, loadPretrainedInto, mapTensorName } from "../lib/weights/weight_import.ts";
import { assertRejectsOneLine } from "./fixtures/assert_one_line.ts";

await tf.setBackend("cpu");

const SCRIPT = new URL("../tools/make_torch_fixture.py", import.meta.url).pathname;

interface TorchFixture {
  dir: string;
  weights: string;
  input: tf.Tensor;
  logits: Float32Array;
  features: Float32Array;
  meta: { logitsScale: number; featuresScale: number; numClasses: number; torch: string };
}

async function findTorchPython(): Promise<string> {
  const candidates = [Deno.env.get("PYTHON"), "/usr/bin/python3", "python3"].filter((c): c is string => !!c);
  for (const python of candidates) {
    const ok = await new Deno.Command(python, {
      args: ["-c", "import torch, torchvision"],
      stdout: "null",
      stderr: "null",
    })
      .output().then((o) => o.success, () => false);
    if (ok) return python;
  }
  throw new Error(
    `weight_import_test needs PyTorch: none of ${candidates.join(", ")} imports torch and torchvision ` +
      "(apt-get install python3-torch python3-torchvision, or set PYTHON)",
  );
}

/** Make the PyTorch references (about 8 s): resnet50 with a 10-class fc, resnet18 with a 1000-class fc. */
function makeTorchFixtures(): Promise<{ root: string; byArch: Record<string, TorchFixture> }> {
  return (async () => {
    const python = await findTorchPython();
    const root = await Deno.makeTempDir({ prefix: "torch_fixture_" });
    const out = await new Deno.Command(python, {
      args: [SCRIPT, "--out", root, "--arch", "resnet50:10", "--arch", "resnet18:1000"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`make_torch_fixture.py failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    const byArch: Record<string, TorchFixture> = {};
    for (const arch of ["resnet50", "resnet18"]) {
      const dir = join(root, arch);
      const meta = JSON.parse(await Deno.readTextFile(join(dir, "fixture.json")));
      const f32 = async (name: string) => new Float32Array((await Deno.readFile(join(dir, name))).buffer);
      byArch[arch] = {
        dir,
        weights: join(dir, "weights.safetensors"),
        input: tf.tensor(await f32("input_nhwc.f32"), meta.inputShape),
        logits: await f32("logits.f32"),
        features: await f32("features.f32"),
        meta,
      };
    }
    return { root, byArch };
  })();
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

async function predict(model: tfl.LayersModel, x: tf.Tensor): Promise<Float32Array> {
  const y = model.predict(x) as tf.Tensor;
  const data = await y.data() as Float32Array;
  y.dispose();
  return data;
}

/** The model up to the global average pool (the features the head sees). */
function trunk(model: tfl.LayersModel): tfl.LayersModel {
  return tfl.model({
    inputs: model.inputs,
    outputs: model.getLayer("avg_pool").output as tfl.SymbolicTensor,
  });
}

Deno.test("mapTensorName translates torchvision/timm and MindSpore names to the tutorial's layers", () => {
  assert.deepEqual(mapTensorName("conv1.weight"), { layer: "conv1", param: "weight" });
  assert.deepEqual(mapTensorName("bn1.running_var"), { layer: "norm", param: "moving_variance" });
  assert.deepEqual(mapTensorName("norm.gamma"), { layer: "norm", param: "weight" });
  assert.deepEqual(mapTensorName("layer3.5.bn3.bias"), { layer: "layer3.5.norm3", param: "bias" });
  assert.deepEqual(mapTensorName("layer3.5.norm3.beta"), { layer: "layer3.5.norm3", param: "bias" });
  assert.deepEqual(mapTensorName("layer2.0.downsample.0.weight"), {
    layer: "layer2.0.down_sample.0",
    param: "weight",
  });
  assert.deepEqual(mapTensorName("layer2.0.down_sample.1.moving_mean"), {
    layer: "layer2.0.down_sample.1",
    param: "moving_mean",
  });
  assert.deepEqual(mapTensorName("module.fc.bias"), { layer: "fc", param: "bias" });
  // the MindSpore model zoo's ResNet
  assert.deepEqual(mapTensorName("layer1.0.down_sample_layer.1.gamma"), {
    layer: "layer1.0.down_sample.1",
    param: "weight",
  });
  assert.deepEqual(mapTensorName("end_point.weight"), { layer: "fc", param: "weight" });
  assert.equal(mapTensorName("layer1.0.bn1.num_batches_tracked"), "ignore");
  assert.equal(mapTensorName("global_step"), null);
  assert.equal(mapTensorName("moments.conv1.step"), null);
});

Deno.test("the import matches PyTorch (torchvision ResNets, randomized BN, fixed batch)", async (t) => {
  const { root, byArch } = await makeTorchFixtures();
  try {
    await t.step(
      "torchvision resnet50 weights give torchvision's logits (BN in eval mode, torch padding)",
      async () => {
        const fx = byArch.resnet50;
        const model = buildResNet("resnet50", { numClasses: 10, seed: 3, padding: "torch" });
        const report = await loadPretrainedInto(model, fx.weights, { keepHead: true });
        assert.equal(report.format, "safetensors");
        assert.equal(report.layersLoaded, 107, "53 convs, 53 BNs and the head");
        assert.equal(report.tensorsLoaded, 53 + 53 * 4 + 2);
        assert.equal(report.ignored.length, 53, "num_batches_tracked of every BN");
        assert.ok(report.ignored.every((n) => n.endsWith(".num_batches_tracked")));
        assert.deepEqual(report.head, {
          layer: "fc",
          imported: true,
          sourceShape: [10, 2048],
          shape: [2048, 10],
        });

        const logits = await predict(model, fx.input);
        const diff = maxAbsDiff(logits, fx.logits);
        assert.ok(fx.meta.logitsScale > 1, `logits have a real scale (${fx.meta.logitsScale})`);
        assert.ok(
          diff <= 1e-3 * fx.meta.logitsScale,
          `max |tfjs − torch| = ${diff}, scale ${fx.meta.logitsScale}`,
        );
        model.dispose();
      },
    );

    await t.step(
      "the same weights with 'same' padding do NOT give torchvision's logits (the check is sensitive)",
      async () => {
        const fx = byArch.resnet50;
        const model = buildResNet("resnet50", { numClasses: 10, seed: 3, padding: "same" });
        await loadPretrainedInto(model, fx.weights, { keepHead: true });
        const diff = maxAbsDiff(await predict(model, fx.input), fx.logits);
        assert.ok(diff > 0.05 * fx.meta.logitsScale, `'same' padding differs from torch: ${diff}`);
        model.dispose();
      },
    );

    await t.step(
      "a 1000-class resnet18 (BasicBlock) imports into a 10-class model: features match, fresh head kept",
      async () => {
        const fx = byArch.resnet18;
        assert.equal(fx.meta.numClasses, 1000);
        const model = buildResNet("resnet18", { numClasses: 10, seed: 4, padding: "torch" });
        const freshKernel = await namedWeights(model).get("fc/kernel")!.data();
        const freshBias = await namedWeights(model).get("fc/bias")!.data();
        const report = await loadPretrainedInto(model, fx.weights);
        assert.deepEqual(report.head, {
          layer: "fc",
          imported: false,
          sourceShape: [1000, 512],
          shape: [512, 10],
        });
        assert.ok(report.ignored.includes("fc.weight") && report.ignored.includes("fc.bias"));
        assert.equal(report.tensorsLoaded, 20 + 20 * 4, "20 convs and 20 BNs, no head");

        const features = await predict(trunk(model), fx.input);
        const diff = maxAbsDiff(features, fx.features);
        assert.ok(
          diff <= 1e-3 * fx.meta.featuresScale,
          `features: max diff ${diff}, scale ${fx.meta.featuresScale}`,
        );
        assert.deepEqual(
          await namedWeights(model).get("fc/kernel")!.data(),
          freshKernel,
          "head kernel untouched",
        );
        assert.deepEqual(await namedWeights(model).get("fc/bias")!.data(), freshBias, "head bias untouched");

        // keeping the 1000-class head in a 10-class model is a shape fault, named
        const other = buildResNet("resnet18", { numClasses: 10, seed: 5, padding: "torch" });
        await assertRejectsOneLine(
          () => loadPretrainedInto(other, fx.weights, { keepHead: true }),
          /^Cannot import fc\.weight from weights\.safetensors: shape \[1000,512\] expected \[10,512\] \(and 1 more fault\)$/,
        );
        model.dispose();
        other.dispose();
      },
    );

    await t.step("a file for another depth is refused with one line naming the tensor", async () => {
      const model = buildResNet("resnet18", { numClasses: 10, seed: 1 });
      const before = await namedWeights(model).get("conv1/kernel")!.data();
      await assertRejectsOneLine(
        () => loadPretrainedInto(model, byArch.resnet50.weights),
        /^Cannot import layer1\.0\.conv3\.weight from weights\.safetensors: the model \(resnet18\) has no layer layer1\.0\.conv3; is the file for another arch\? \(and \d+ more faults\)$/,
      );
      assert.deepEqual(await namedWeights(model).get("conv1/kernel")!.data(), before, "no partial load");
      model.dispose();
    });

    await t.step("the tutorial's MindSpore naming gives torchvision's logits too", async () => {
      const fx = byArch.resnet50;
      // torchvision → MindSpore names: rename through a model, as a MindSpore user's checkpoint would hold them
      const relay = buildResNet("resnet50", { numClasses: 10, seed: 6, padding: "torch" });
      await loadPretrainedInto(relay, fx.weights, { keepHead: true });
      const ckpt = join(root, "resnet50_from_torch.ckpt");
      await Deno.writeFile(ckpt, encodeMindSporeCheckpoint(await exportNamedTensors(relay, "mindspore")));
      relay.dispose();

      const model = buildResNet("resnet50", { numClasses: 10, seed: 7, padding: "torch" });
      const report = await loadPretrainedInto(model, ckpt, { keepHead: true });
      assert.equal(report.format, "mindspore");
      assert.equal(report.tensorsLoaded, 267);
      const diff = maxAbsDiff(await predict(model, fx.input), fx.logits);
      assert.ok(diff <= 1e-3 * fx.meta.logitsScale, `max diff ${diff}`);
      model.dispose();
    });
  } finally {
    for (const fx of Object.values(byArch)) fx.input.dispose();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("export to torch naming round-trips through safetensors; faults name the tensor; nothing partial", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = buildResNet("tiny", { numClasses: 10, seed: 1 });
    const tensors = await exportNamedTensors(source, "torch");
    assert.deepEqual(tensors.slice(0, 5).map((t) => t.name), [
      "conv1.weight",
      "bn1.weight",
      "bn1.bias",
      "bn1.running_mean",
      "bn1.running_var",
    ]);
    const path = join(dir, "tiny.safetensors");
    await Deno.writeFile(path, encodeSafetensors(tensors));
    assert.deepEqual(decodeSafetensors(await Deno.readFile(path)).get("conv1.weight")!.shape, [8, 3, 7, 7]);

    const target = buildResNet("tiny", { numClasses: 10, seed: 2 });
    await loadPretrainedInto(target, path, { keepHead: true });
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 9);
    assert.deepEqual(await predict(target, x), await predict(source, x));
    x.dispose();

    const fresh = buildResNet("tiny", { numClasses: 10, seed: 3 });
    const before = await namedWeights(fresh).get("layer2.0.conv1/kernel")!.data();
    const bad = join(dir, "bad.safetensors");
    await Deno.writeFile(
      bad,
      encodeSafetensors(
        tensors.map((t) =>
          t.name === "layer2.0.conv1.weight"
            ? { ...t, shape: [16, 16, 1, 1], data: t.data.subarray(0, 256) }
            : t
        ),
      ),
    );
    await assertRejectsOneLine(
      () => loadPretrainedInto(fresh, bad),
      /^Cannot import layer2\.0\.conv1\.weight from bad\.safetensors: shape \[16,16,1,1\] expected \[16,32,1,1\]$/,
    );
    await Deno.writeFile(
      bad,
      encodeSafetensors(tensors.filter((t) => t.name !== "layer4.0.bn3.running_mean")),
    );
    await assertRejectsOneLine(
      () => loadPretrainedInto(fresh, bad),
      /^Cannot import bad\.safetensors: it has no layer4\.0\.bn3\.running_mean for layer4\.0\.norm3\/moving_mean$/,
    );
    const cut = await Deno.readFile(path);
    await Deno.writeFile(bad, cut.subarray(0, cut.length - 10));
    await assertRejectsOneLine(
      () => loadPretrainedInto(fresh, bad, { format: "safetensors" }),
      /^Cannot read bad\.safetensors as safetensors: tensor .* past the \d+-byte data area \(truncated file\?\)$/,
    );
    await Deno.writeFile(bad, new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0]));
    await assertRejectsOneLine(
      () => loadPretrainedInto(fresh, bad),
      /^Cannot import bad\.safetensors: a PyTorch pickle/,
    );
    await assertRejectsOneLine(
      () => loadPretrainedInto(fresh, join(dir, "absent.safetensors")),
      /^Cannot read pretrained weights .*absent\.safetensors/,
    );
    assert.deepEqual(
      await namedWeights(fresh).get("layer2.0.conv1/kernel")!.data(),
      before,
      "no partial load",
    );
    for (const m of [source, target, fresh]) m.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
