/**
 * The training progress line's ETA covers the whole run (every remaining step and every remaining
 * evaluation), and the software-adapter line says it in words that fit the numbers.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveConfig } from "../lib/config/mod.ts";
import { createLogger } from "../lib/core/mod.ts";
import { MetricsLog, runEtaSeconds, TrainReporter } from "../lib/train/mod.ts";
import type { BackendInfo, PipelineCensus } from "../lib/webgpu/mod.ts";

const LLVMPIPE: BackendInfo = {
  backend: "webgpu",
  kernels: "cpu",
  kernelPolicy: "auto",
  adapter: { name: "llvmpipe", vendor: "", architecture: "", device: "", isFallbackAdapter: true },
};

function step(globalStep: number, seconds: number, stepsPerEpoch: number) {
  return {
    epoch: Math.floor((globalStep - 1) / stepsPerEpoch) + 1,
    step: ((globalStep - 1) % stepsPerEpoch) + 1,
    steps: stepsPerEpoch,
    globalStep,
    loss: 2.3,
    lr: 1e-3,
    size: 16,
    seconds,
    numTensors: 0,
  };
}

/**
 * A reporter for a smoke run of `epochs` epochs at batch 16 on llvmpipe, its metrics in a temporary folder,
 * and the log lines it wrote so far.
 */
async function withReporter(
  run: { epochs: number; totalSteps: number; testCount: number },
  test: (reporter: TrainReporter, lines: string[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "eta_" });
  try {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), tty: false, plainEverySeconds: 0 });
    const config = resolveConfig("smoke", { epochs: run.epochs, batchSize: 16 });
    const metrics = await MetricsLog.open(join(dir, "metrics.jsonl"), { truncate: true });
    const reporter = new TrainReporter(metrics, {
      config,
      log,
      backend: LLVMPIPE,
      totalSteps: run.totalSteps,
      testCount: run.testCount,
    });
    await test(reporter, lines);
    metrics.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("runEtaSeconds: steps at the steady pace plus the remaining evaluations", () => {
  assert.equal(
    runEtaSeconds({ stepSeconds: 20, remainingSteps: 10, evalSeconds: 30, remainingEvaluations: 2 }),
    260,
  );
  assert.equal(
    runEtaSeconds({ stepSeconds: 20, remainingSteps: -1, evalSeconds: 30, remainingEvaluations: 0 }),
    0,
  );
});

Deno.test("the progress line shows the run's ETA (all epochs and evaluations), not the epoch's", async () => {
  // 3 epochs × 4 steps, 96 test images
  await withReporter({ epochs: 3, totalSteps: 12, testCount: 96 }, async (reporter, lines) => {
    await reporter.start({ fresh: true, stepsPerEpoch: 4, trainCount: 64, params: 1000 });
    assert.ok(lines.some((l) => l.includes("3 epochs × 4 steps of 16 images on webgpu")), lines.join("\n"));
    reporter.beginEpoch(0, 0, 64);
    await reporter.step(step(1, 9, 4)); // shader compiles: not the pace
    await reporter.step(step(2, 2, 4));
    await reporter.step(step(3, 2, 4));
    // 9 steps left at 2 s, and 3 evaluations of 96 images at a third of 2 s / 16 images each: 18 + 12 = 30 s
    assert.equal(reporter.runEta(), 30);
    const progress = lines.filter((l) => l.startsWith("train epoch 1/3"));
    assert.match(progress.at(-1)!, /run ETA 30s/);
    assert.doesNotMatch(progress.at(-1)!, / {2}ETA /, "the epoch-only ETA is gone");
    const software = lines.find((l) => l.includes("software WebGPU adapter"))!;
    assert.match(software, /8\.00 img\/s, so the remaining 10 steps and 3 evaluations take about 32s$/);
  });
});

Deno.test("the software-adapter line at the last step: no 'remaining 0 steps take about 0s'", async () => {
  await withReporter({ epochs: 1, totalSteps: 2, testCount: 32 }, async (reporter, lines) => {
    await reporter.start({ fresh: true, stepsPerEpoch: 2, trainCount: 32, params: 1000 });
    assert.ok(lines.some((l) => l.includes("1 epoch × 2 steps of 16 images")), lines.join("\n"));
    reporter.beginEpoch(0, 0, 32);
    await reporter.step(step(1, 3, 2));
    await reporter.step(step(2, 3, 2));
    const software = lines.find((l) => l.includes("software WebGPU adapter"))!;
    assert.match(software, /5\.33 img\/s, so 1 evaluation takes about 2s$/);
    assert.doesNotMatch(lines.join("\n"), /remaining 0 steps|about 0s|1 epochs/);
  });
});

Deno.test("the first step's compiles: a progress line while they run, and no run ETA from that step", async () => {
  await withReporter({ epochs: 1, totalSteps: 4, testCount: 32 }, async (reporter, lines) => {
    const census = { total: 10, byFamily: new Map<string, number>(), onNew: null } as PipelineCensus;
    reporter.watchCompiles(census);
    await reporter.start({ fresh: true, stepsPerEpoch: 4, trainCount: 64, params: 1000 });
    reporter.beginEpoch(0, 0, 64);
    // the first step creates three pipelines (the census calls back as each is created)
    for (const family of ["conv forward", "conv filter gradient", "tfjs binary"]) {
      census.total++;
      census.onNew!(family, census.total);
    }
    const compiling = lines.filter((l) => l.startsWith("train: compiling kernels"));
    assert.equal(compiling.length, 3, lines.join("\n"));
    assert.match(compiling[0], /1 pipelines .*conv forward/);
    assert.match(compiling[2], /3 pipelines .*tfjs binary/);
    await reporter.step(step(1, 95, 4)); // 95 s of compiles: no pace to tell the run's ETA by
    assert.match(lines.find((l) => l.includes("compiling kernels") && l.includes("done in"))!, /3 pipelines/);
    assert.equal(reporter.runEta(), null, "one step, its compiles included, is no pace");
    assert.match(lines.filter((l) => l.startsWith("train epoch 1/1")).at(-1)!, /run ETA \?/);
    await reporter.step(step(2, 2, 4));
    // 2 steps left at 2 s, one evaluation of 32 images at a third of 2 s / 16 images each: 4 + 1.33 s
    assert.equal(Math.round(reporter.runEta()!), 5);
  });
});
