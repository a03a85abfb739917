/**
 * What a first-time user reads must be true: no ETA on a finished bar, the batch a step
 * really holds, a train limit past the data, a preset a resume cannot take, why an interrupted stage runs
 * again, and what to do about a lock held from another host or by a run with the same settings elsewhere.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveConfig } from "../lib/config/config.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { acquireLock } from "../lib/core/lock.ts";
import { createLogger } from "../lib/core/log.ts";
import { currentProcess } from "../lib/core/process.ts";
import { readRunManifest } from "../lib/run/manifest.ts";
import type { StageDefinition } from "../lib/run/stage.ts";
import { explainRerun, runPipeline } from "../lib/run/runner.ts";
import { MetricsLog, TrainReporter } from "../lib/train/mod.ts";
import { preflight } from "../pipeline/main.ts";
import { makeFixtureRun } from "./fixtures/make_run.ts";

const MAIN = new URL("../pipeline/main.ts", import.meta.url).pathname;

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ write: (l) => lines.push(l), tty: false, plainEverySeconds: 0 }) };
}

Deno.test("a finished progress bar says no ETA, its own or the run's", () => {
  const { lines, log } = capture();
  const bar = log.progress("train epoch 2/2", { unit: "img", eta: () => 21 });
  bar.update(32, 64, "loss 2.1");
  bar.update(64, 64, "loss 2.0");
  bar.done();
  const own = log.progress("fetch", { unit: "B" });
  own.update(100, 100);
  own.done();
  assert.match(lines[0], /run ETA 21s/, "a bar in progress shows the run's ETA");
  const finished = lines.filter((l) => l.includes("done in"));
  assert.equal(finished.length, 2);
  for (const line of finished) assert.doesNotMatch(line, /ETA/, line);
  assert.match(
    finished[0],
    /^train epoch 2\/2 {2}64 img\/64 img \(100%\) {2}[\d.]+ img\/s {2}loss 2\.0 {2}done in \d+s$/,
  );
});

Deno.test("the start line says what a step holds: a batch larger than the split is the whole split", async () => {
  const dir = await Deno.makeTempDir({ prefix: "first_user_reporter_" });
  const metrics = await MetricsLog.open(join(dir, "metrics.jsonl"));
  try {
    const config = resolveConfig("smoke", { batchSize: 4096, epochs: 1 });
    const { lines, log } = capture();
    const reporter = new TrainReporter(metrics, {
      config,
      log,
      backend: { backend: "cpu", adapter: null, kernels: "stock", kernelPolicy: "auto" },
      totalSteps: 1,
    });
    await reporter.start({ fresh: true, stepsPerEpoch: 1, trainCount: 64, params: 1234 });
    assert.deepEqual(lines, [
      "train: tiny, 1,234 trainable parameters; 1 epoch × 1 step of 64 images " +
      "(--batch-size 4,096 is more than the 64 training images) on cpu",
    ]);
  } finally {
    metrics.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--train-limit and --test-limit past CIFAR-10's images are said to be cut", () => {
  const { lines, log } = capture();
  preflight(resolveConfig("smoke", { trainLimit: 100_000, testLimit: 10_000 }), log);
  assert.deepEqual(lines, [
    "warning: --train-limit 100,000 is more than the 50,000 train images of CIFAR-10: all 50,000 are used",
  ]);
  preflight(resolveConfig("smoke", { trainLimit: 50_000, testLimit: 20_000 }), log);
  assert.equal(lines.length, 2);
  assert.match(lines[1], /^warning: --test-limit 20,000 is more than the 10,000 test images of CIFAR-10/);
});

Deno.test("--resume --preset with another preset than the run's is one line, exit 2; the run is left as it was", async () => {
  const root = await Deno.makeTempDir({ prefix: "first_user_resume_" });
  try {
    const run = await makeFixtureRun(join(root, "r"), { visualize: false });
    const before = await Deno.readTextFile(join(run.dir, "run.json"));
    const pipeline = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "--unstable-webgpu", MAIN, ...args],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: out.code, stderr: new TextDecoder().decode(out.stderr).trim() };
    };
    const other = await pipeline("--resume", "--preset", "quick", "--out", run.dir);
    assert.equal(other.code, 2, other.stderr);
    assert.equal(
      other.stderr,
      `error: [usage] --resume --preset quick: the run in ${run.dir} was made with --preset smoke, which a ` +
        `resume keeps; drop --preset, or drop --resume to start over`,
    );
    assert.equal(await Deno.readTextFile(join(run.dir, "run.json")), before);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Two toy stages: "fetch" writes its seed, "decode" fails when told to. */
function toyStages(options: { failDecode?: boolean } = {}): StageDefinition[] {
  return [
    {
      name: "fetch",
      deps: [],
      module: new URL(import.meta.url),
      params: (c) => ({ seed: c.seed }),
      run: async (ctx) => void await Deno.writeTextFile(join(ctx.dir, "value.txt"), String(ctx.config.seed)),
    },
    {
      name: "decode",
      deps: ["fetch"],
      module: new URL(import.meta.url),
      params: () => ({}),
      async run(ctx) {
        await Deno.writeTextFile(join(ctx.dir, "double.txt"), "2");
        if (options.failDecode) {
          throw new PipelineError("decode", "Cannot decode value.txt: broken on purpose");
        }
      },
    },
  ];
}

Deno.test("a stage that did not finish last time says so when it runs again, not that the cache was cleared", async () => {
  const root = await Deno.makeTempDir({ prefix: "first_user_rerun_" });
  try {
    const options = {
      config: resolveConfig("smoke", { seed: 3 }),
      runDir: join(root, "run"),
      cacheDir: join(root, "cache"),
      stages: ["decode" as const],
      log: createLogger({ quiet: true }),
    };
    await assert.rejects(runPipeline(toyStages({ failDecode: true }), options), /broken on purpose/);
    await runPipeline(toyStages(), options);
    const manifest = await readRunManifest(options.runDir);
    assert.equal(manifest?.stages.decode?.status, "done");
    assert.equal(
      manifest?.stages.decode?.reason,
      "its previous run did not finish (killed or failed), so it left nothing in the cache",
    );
    const parts = { params: {}, inputs: {}, code: {} };
    assert.equal(explainRerun(parts, parts), "cache entry missing (the cache was cleared or moved)");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a lock taken on another host says how to clear it; a cache entry built elsewhere says to wait or use another --cache-dir", async () => {
  const root = await Deno.makeTempDir({ prefix: "first_user_lock_" });
  try {
    const path = join(root, ".lock");
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        pid: 4242,
        host: "build-7",
        startTicks: 1,
        since: "2026-12-01T22:30:00.000Z",
        purpose: "x",
      }),
    );
    await assert.rejects(
      acquireLock(path, { stage: "usage", what: "the run folder runs/a" }),
      (err: unknown) => {
        assert.ok(err instanceof PipelineError);
        assert.equal(
          err.message,
          `the run folder runs/a is locked by pid 4242 on build-7 since 2026-12-01T22:30:00.000Z (x); ` +
            `this machine (${currentProcess().host}) cannot see whether it still runs: wait for it to end, ` +
            `or, if no process on build-7 uses it any more, remove ${path}`,
        );
        return true;
      },
    );

    // a run with the same settings in another folder is building the decode entry
    const options = {
      config: resolveConfig("smoke", { seed: 3 }),
      runDir: join(root, "a"),
      cacheDir: join(root, "cache"),
      stages: ["decode" as const],
      log: createLogger({ quiet: true }),
    };
    await runPipeline(toyStages(), options);
    const key = (await readRunManifest(options.runDir))!.stages.decode!.key!;
    await Deno.remove(join(options.cacheDir, "decode", key), { recursive: true });
    const holder = {
      ...currentProcess(),
      since: "2026-12-01T22:30:00.000Z",
      purpose: "pipeline --out runs/b",
    };
    await Deno.writeTextFile(join(options.cacheDir, "decode", `${key}.lock`), JSON.stringify(holder));
    await assert.rejects(
      runPipeline(toyStages(), { ...options, runDir: join(root, "c") }),
      (err: unknown) => {
        assert.ok(err instanceof PipelineError);
        assert.equal(err.exitCode, 2);
        assert.match(
          err.message,
          /^the decode cache entry \w{12} \(being built\) is locked by pid \d+ since \S+ \(pipeline --out runs\/b\); it makes what this run needs: wait for it to end and rerun, which takes the result from the cache, or use another --cache-dir$/,
        );
        return true;
      },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
