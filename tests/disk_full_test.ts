/**
 * A full disk (ENOSPC) while the pipeline writes run.json or a stage's file: one line naming the stage and
 * the file, exit 1, and run.json saying "failed" whenever it can be written at all. The faults are injected
 * through the write helpers (`injectWriteFault`), and one comes from a real full device (/dev/full).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveConfig } from "../lib/config/config.ts";
import { injectWriteFault, writeFileAtomic } from "../lib/core/atomic.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { createLogger } from "../lib/core/log.ts";
import { readRunManifest } from "../lib/run/manifest.ts";
import { runPipeline } from "../lib/run/runner.ts";
import type { StageDefinition } from "../lib/run/stage.ts";
import { main } from "../pipeline/main.ts";

const quiet = createLogger({ quiet: true });
const config = resolveConfig("smoke");

/** The error a write to a full disk fails with, as Deno gives it. */
function diskFull(): Error {
  return Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
}

/** "fetch" writes a file; the second stage runs `work` in its folder. */
function toyStages(second: "decode" | "train", work: (dir: string) => Promise<void>): StageDefinition[] {
  return [
    {
      name: "fetch",
      deps: [],
      module: new URL(import.meta.url),
      params: () => ({}),
      run: (ctx) => writeFileAtomic(join(ctx.dir, "value.txt"), "v"),
    },
    {
      name: second,
      deps: ["fetch"],
      module: new URL(import.meta.url),
      params: () => ({}),
      run: (ctx) => work(ctx.dir),
    },
  ];
}

/** A one-line fault of `stage`, exit 1, whose message matches `pattern`. */
function oneLine(stage: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof PipelineError, `a PipelineError, not ${err}`);
    assert.equal(err.stage, stage);
    assert.equal(err.exitCode, 1);
    assert.ok(!err.message.includes("\n"), err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

async function tempRun() {
  const root = await Deno.makeTempDir({ prefix: "disk-full-" });
  return { root, runDir: join(root, "run"), cacheDir: join(root, "cache") };
}

Deno.test("run.json cannot be written once (the disk fills during decode): one line of decode naming run.json, and run.json says failed", async () => {
  const { root, runDir, cacheDir } = await tempRun();
  let full = false;
  injectWriteFault((path) => {
    if (!full || !path.endsWith("run.json")) return null;
    full = false; // space comes back: the next write of run.json goes through
    return diskFull();
  });
  try {
    const stages = toyStages("decode", async (dir) => {
      await writeFileAtomic(join(dir, "out.txt"), "x");
      full = true;
    });
    await assert.rejects(
      runPipeline(stages, { config, runDir, cacheDir, stages: ["decode"], log: quiet }),
      oneLine("decode", /^Cannot write .*\/run\/run\.json: no space left on the device$/),
    );
  } finally {
    injectWriteFault(null);
  }
  const m = await readRunManifest(runDir);
  assert.equal(m?.status, "failed");
  assert.match(m?.error ?? "", /^error: \[decode\] Cannot write .*\/run\.json: no space left on the device$/);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a train checkpoint file on a full disk: one line of train naming the file, and run.json says failed", async () => {
  const { root, runDir, cacheDir } = await tempRun();
  injectWriteFault((path) => path.endsWith("weights.bin") ? diskFull() : null);
  try {
    const stages = toyStages("train", async (dir) => {
      await writeFileAtomic(join(dir, "checkpoints", "last", "weights.bin"), new Uint8Array(64));
    });
    await assert.rejects(
      runPipeline(stages, { config, runDir, cacheDir, stages: ["train"], log: quiet }),
      oneLine(
        "train",
        /^Cannot write .*\/train\/checkpoints\/last\/weights\.bin: no space left on the device$/,
      ),
    );
  } finally {
    injectWriteFault(null);
  }
  const m = await readRunManifest(runDir);
  assert.equal(m?.status, "failed");
  assert.equal(m?.stages.train?.status, "failed");
  assert.match(m?.error ?? "", /^error: \[train\] Cannot write .*weights\.bin: no space left on the device$/);
  await Deno.remove(root, { recursive: true });
});

Deno.test({
  name:
    "a stage's own write to a full device (/dev/full, no injection) is one line of that stage, not a trace",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const { root, runDir, cacheDir } = await tempRun();
    const stages = toyStages("train", async () => {
      await Deno.writeFile("/dev/full", new Uint8Array(16));
    });
    await assert.rejects(
      runPipeline(stages, { config, runDir, cacheDir, stages: ["train"], log: quiet }),
      oneLine("train", /^Cannot write: no space left on the device \(writefile '\/dev\/full'\)$/),
    );
    assert.equal((await readRunManifest(runDir))?.status, "failed");
    await Deno.remove(root, { recursive: true });
  },
});

Deno.test("the command with a disk that takes no run.json at all: exit 1 and one line naming run.json", async () => {
  const { root, runDir, cacheDir } = await tempRun();
  const errors: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => errors.push(args.join(" "));
  injectWriteFault((path) => path.endsWith("run.json") ? diskFull() : null);
  let code: number;
  try {
    code = await main(["--preset", "smoke", "--stages", "fetch", "--out", runDir, "--cache-dir", cacheDir]);
  } finally {
    injectWriteFault(null);
    console.error = consoleError;
  }
  assert.equal(code, 1);
  assert.equal(errors.length, 1, errors.join("\n"));
  assert.match(errors[0], /^error: \[run\] Cannot write .*\/run\/run\.json: no space left on the device$/);
  await assert.rejects(Deno.stat(join(runDir, "run.json")), Deno.errors.NotFound);
  await Deno.remove(root, { recursive: true });
});
