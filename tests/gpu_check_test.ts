import assert from "node:assert/strict";
import { CARRY_LIMIT_BYTES, rehearseGpuCheck } from "../tools/gpu_check.ts";

/**
 * The GPU check's rehearsal: pack a tiny payload, unpack it in a temp folder and run it there
 * as the GPU machine would, offline (npm's registry pointed at a dead address), on this machine's adapter
 * with tiny sizes and the PyTorch peer on the CPU. Every phase must succeed and write its figures.
 */
Deno.test("the GPU check's rehearsal runs every phase from the packed payload and writes its JSON and log", async () => {
  const { report, manifest } = await rehearseGpuCheck();
  assert.ok(manifest.totalBytes <= CARRY_LIMIT_BYTES, `payload ${manifest.totalBytes} bytes`);
  for (const name of ["deno.xz", "node_modules.tar.xz", "project.tar.xz", "run.sh", "cifar/train.bin"]) {
    assert.ok(manifest.files.some((f) => f.name === name), `payload lacks ${name}`);
  }
  assert.ok(manifest.npmPackages.some((p) => p.startsWith("@tensorflow/tfjs-backend-webgpu@")));
  assert.ok(!manifest.npmPackages.some((p) => p.startsWith("playwright-core")), "carries unused packages");
  const phases = report.phases as { name: string; status: string; error?: string; result?: unknown }[];
  assert.deepEqual(
    phases.map((p) => `${p.name}:${p.status}${p.error ? ` (${p.error})` : ""}`),
    ["adapter:ok", "throughput:ok", "torch:ok", "train:ok"],
  );
  const bench = phases[1].result as {
    results: { mode: string; imagesPerSecond: number; tensors: number[] }[];
  };
  assert.deepEqual(bench.results.map((r) => r.mode), ["stock", "cpu", "gpu"]);
  for (const r of bench.results) {
    assert.ok(r.imagesPerSecond > 0);
    assert.equal(r.tensors[0], r.tensors[1], `${r.mode}: live tensors grew`);
  }
  const train = phases[3].result as {
    steps: number;
    testAccuracy: number;
    kernels: string;
    meanLoss: number;
  };
  assert.equal(train.steps, 4); // 64 images at batch 16
  assert.ok(train.testAccuracy >= 0 && train.testAccuracy <= 1);
  assert.ok(Number.isFinite(train.meanLoss));
  const torch = phases[2].result as { rows: { imagesPerSecond: number }[] };
  assert.ok(torch.rows.length > 0 && torch.rows[0].imagesPerSecond > 0);
  assert.ok(
    (report.summary as string[]).some((l) => /PyTorch fp32/.test(l)),
    "summary lacks the PyTorch ratio",
  );
  assert.ok((report.logBytes as number) > 0);
});
