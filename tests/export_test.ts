/**
 * `deno task export` checked in PyTorch: a run's checkpoint exported as a torchvision state dict is loaded
 * by tools/torch_export_check.py (Debian's python3-torch and python3-torchvision, `PYTHON` names another
 * interpreter) with `load_state_dict(strict=True)` and TF-style 'same' padding, and must give the project's
 * logits on the same images; with torchvision's own padding it must not (the check is sensitive).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { openRunModel } from "../lib/infer/mod.ts";
import { normalizeImages } from "../lib/data/mod.ts";
import { buildResNet } from "../lib/model/mod.ts";
import { selectBackend } from "../lib/webgpu/mod.ts";
import { decodeSafetensors, loadPretrainedInto } from "../lib/weights/mod.ts";
import { makeModelRun } from "./fixtures/model_run.ts";
import { seededRandom } from "./fixtures/make_run.ts";

await selectBackend("cpu");

const ROOT = new URL("..", import.meta.url).pathname;
const SCRIPT = join(ROOT, "tools/torch_export_check.py");

/** Relative bound of the cross-check: max |tfjs − torch| ≤ BOUND × max |logit|. */
const BOUND = 1e-4;

async function torchPython(): Promise<string> {
  const candidates = [Deno.env.get("PYTHON"), "/usr/bin/python3", "python3"].filter((c): c is string => !!c);
  for (const python of candidates) {
    const ok = await new Deno.Command(python, {
      args: ["-c", "import torch, torchvision"],
      stdout: "null",
      stderr: "null",
    }).output().then((o) => o.success, () => false);
    if (ok) return python;
  }
  throw new Error(
    `export_test needs PyTorch: none of ${candidates.join(", ")} imports torch and torchvision ` +
      "(apt-get install python3-torch python3-torchvision, or set PYTHON)",
  );
}

async function run(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", cwd: ROOT }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

function tiles(count: number, seed: number): Uint8Array {
  const random = seededRandom(seed);
  const out = new Uint8Array(count * 32 * 32 * 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

for (const arch of ["tiny", "resnet18"] as const) {
  Deno.test(`export --format safetensors --names torchvision: PyTorch gives the project's logits (${arch})`, async () => {
    const python = await torchPython();
    const dir = await Deno.makeTempDir({ prefix: `export_${arch}_` });
    try {
      const runDir = join(dir, "run");
      await makeModelRun(runDir, { arch });
      const cli = await run(Deno.execPath(), [
        "run",
        "--allow-all",
        join(ROOT, "pipeline/export.ts"),
        "--run",
        runDir,
        "--format",
        "safetensors",
        "--names",
        "torchvision",
      ]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /^wrote .*export\/model\.safetensors \(\d+ tensors, .*torchvision names/);
      const exportDir = join(runDir, "export");
      const pre = JSON.parse(await Deno.readTextFile(join(exportDir, "preprocessing.json")));
      assert.equal(pre.padding, "same");
      assert.equal(pre.inputSize, 32);
      assert.equal(pre.classes.length, 10);
      assert.deepEqual(pre.mean, [0.4914, 0.4822, 0.4465]);
      assert.equal(pre.torchvisionBuilder, arch === "resnet18" ? "torchvision.models.resnet18" : null);
      const names = [...decodeSafetensors(await Deno.readFile(join(exportDir, "model.safetensors"))).keys()];
      assert.ok(
        names.includes("bn1.num_batches_tracked") && names.includes("layer2.0.downsample.1.running_var"),
      );

      // the project's logits on 4 seeded tiles
      const images = tiles(4, 5);
      const project = await openRunModel(runDir);
      const x = tf.tensor4d(normalizeImages(images, { mean: project.mean, std: project.std }), [
        4,
        32,
        32,
        3,
      ]);
      const ours = (project.model.predict(x) as tf.Tensor).dataSync() as Float32Array;
      const tilesPath = join(dir, "tiles.u8");
      await Deno.writeFile(tilesPath, images);

      const logitsPath = join(dir, "torch.f32");
      const torch = await run(python, [
        SCRIPT,
        "--export",
        exportDir,
        "--images",
        tilesPath,
        "--out",
        logitsPath,
      ]);
      assert.equal(torch.code, 0, torch.stderr);
      const theirs = new Float32Array((await Deno.readFile(logitsPath)).buffer);
      assert.equal(theirs.length, ours.length);
      const scale = Math.max(...Array.from(ours, Math.abs));
      const diff = Math.max(...Array.from(ours, (v, i) => Math.abs(v - theirs[i])));
      assert.ok(scale > 0.1, `logits have a real scale (${scale})`);
      assert.ok(diff <= BOUND * scale, `max |tfjs − torch| = ${diff} for logits of scale ${scale}`);
      console.log(`${arch}: max |tfjs − torch| = ${diff.toExponential(2)}, logits scale ${scale.toFixed(2)}`);

      // torchvision's own symmetric padding does not reproduce them
      const plain = await run(python, [
        SCRIPT,
        "--export",
        exportDir,
        "--images",
        tilesPath,
        "--out",
        logitsPath,
        "--padding",
        "torch",
      ]);
      assert.equal(plain.code, 0, plain.stderr);
      const other = new Float32Array((await Deno.readFile(logitsPath)).buffer);
      const off = Math.max(...Array.from(ours, (v, i) => Math.abs(v - other[i])));
      assert.ok(off > 100 * BOUND * scale, `torch padding differs: ${off}`);

      // and the export imports back into the same logits (the inverse of the import)
      const back = buildResNet(arch, { numClasses: 10, seed: 99 });
      await loadPretrainedInto(back, join(exportDir, "model.safetensors"), { keepHead: true });
      assert.deepEqual((back.predict(x) as tf.Tensor).dataSync(), ours);
      back.dispose();
      x.dispose();
      project.model.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("export: a bad option or a run without checkpoint is one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "export_bad_" });
  try {
    const script = join(ROOT, "pipeline/export.ts");
    const fmt = await run(Deno.execPath(), ["run", "-A", script, "--run", dir, "--format", "onnx"]);
    assert.equal(fmt.code, 2);
    assert.equal(fmt.stderr.trim(), 'error: [usage] --format must be one of safetensors, got "onnx"');
    const none = await run(Deno.execPath(), ["run", "-A", script, "--run", dir, "--format", "safetensors"]);
    assert.equal(none.code, 1);
    assert.match(none.stderr.trim(), /^error: \[export\] Cannot read .*run\.json: no such file$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
