import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { describeAdapter, formatAdapter, selectBackend } from "../lib/model/backend.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { projectKernelsActive } from "../lib/model/webgpu_kernels.ts";

Deno.test("formatAdapter names the adapter and says whether it is a software fallback", () => {
  const llvmpipe = {
    name: "llvmpipe (LLVM 15.0.6, 256 bits)",
    vendor: "65541",
    architecture: "",
    device: "0",
    isFallbackAdapter: true,
  };
  assert.equal(
    formatAdapter(llvmpipe),
    "llvmpipe (LLVM 15.0.6, 256 bits), vendor 65541, software fallback adapter",
  );
  assert.equal(
    formatAdapter({
      name: "NVIDIA H200",
      vendor: "nvidia",
      architecture: "hopper",
      device: "",
      isFallbackAdapter: false,
    }),
    "NVIDIA H200, vendor nvidia, hopper, hardware adapter",
  );
  assert.equal(formatAdapter(null), "cpu backend (no WebGPU adapter in use)");
});

Deno.test("selectBackend('cpu') makes cpu tfjs's backend and reports no adapter", async () => {
  const info = await selectBackend("cpu");
  assert.deepEqual(info, { backend: "cpu", adapter: null, kernels: "stock" });
  assert.equal(tf.getBackend(), "cpu");
});

Deno.test("with no WebGPU adapter, selectBackend('webgpu') fails with one line pointing at --backend cpu", async () => {
  const gpu = navigator.gpu;
  if (!gpu) {
    // Deno without --unstable-webgpu: the same kind of one-line error
    await assert.rejects(() => selectBackend("webgpu"), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.match(err.message, /--backend cpu/);
      return true;
    });
    return;
  }
  const original = gpu.requestAdapter;
  Object.defineProperty(gpu, "requestAdapter", { value: () => Promise.resolve(null), configurable: true });
  try {
    assert.equal(await describeAdapter(), null);
    await assert.rejects(() => selectBackend("webgpu", { stage: "train" }), (err: unknown) => {
      assert.ok(err instanceof PipelineError);
      assert.equal(err.stage, "train");
      assert.match(err.toLine(), /^error: \[train\] No WebGPU adapter found; .*use --backend cpu$/);
      return true;
    });
  } finally {
    Object.defineProperty(gpu, "requestAdapter", { value: original, configurable: true, writable: true });
  }
});

Deno.test({
  name: "describeAdapter reports this machine's adapter",
  ignore: !navigator.gpu,
  fn: async () => {
    const adapter = await describeAdapter();
    if (!adapter) {
      console.error("\n!!! backend_test: this machine has no WebGPU adapter !!!\n");
      return;
    }
    assert.ok(adapter.name.length > 0);
    assert.equal(typeof adapter.isFallbackAdapter, "boolean");
  },
});

Deno.test({
  name: "selectBackend('webgpu') swaps in the project's conv kernels unless asked for the stock ones",
  ignore: !navigator.gpu || !(await navigator.gpu.requestAdapter()),
  fn: async () => {
    try {
      const info = await selectBackend("webgpu");
      assert.equal(tf.getBackend(), "webgpu");
      assert.equal(info.kernels, "project");
      assert.equal(projectKernelsActive(), true);
      const stock = await selectBackend("webgpu", { kernels: "stock" });
      assert.equal(stock.kernels, "stock");
      assert.equal(projectKernelsActive(), false);
    } finally {
      await selectBackend("cpu");
    }
  },
});
