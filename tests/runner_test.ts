import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveConfig } from "../lib/config/config.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { sha256Hex } from "../lib/core/hash.ts";
import { createLogger } from "../lib/core/log.ts";
import { readRunManifest } from "../lib/run/manifest.ts";
import type { StageDefinition } from "../lib/run/stage.ts";
import { explainRerun, runPipeline, withUpstream } from "../lib/run/runner.ts";
import { STAGES } from "../pipeline/stages.ts";

/** Two toy stages: "fetch" writes a file from a param, "decode" doubles it. Counts how often each ran. */
function toyStages(calls: string[], options: { failDecode?: boolean } = {}): StageDefinition[] {
  return [
    {
      name: "fetch",
      deps: [],
      module: new URL(import.meta.url),
      params: (c) => ({ seed: c.seed }),
      async run(ctx) {
        calls.push("fetch");
        await Deno.writeTextFile(join(ctx.dir, "value.txt"), String(ctx.config.seed));
        await Deno.mkdir(join(ctx.dir, "sub"));
        await Deno.writeTextFile(join(ctx.dir, "sub", "note.txt"), "nested");
        return { value: ctx.config.seed };
      },
    },
    {
      name: "decode",
      deps: ["fetch"],
      module: new URL(import.meta.url),
      params: (c) => ({ epochs: c.epochs }),
      async run(ctx) {
        calls.push("decode");
        const v = Number(await Deno.readTextFile(join(ctx.input("fetch"), "value.txt")));
        await Deno.writeTextFile(join(ctx.dir, "double.txt"), String(2 * v));
        if (options.failDecode) {
          throw new PipelineError("decode", "Cannot decode value.txt: broken on purpose");
        }
      },
    },
  ];
}

async function tempDirs() {
  const root = await Deno.makeTempDir({ prefix: "runner-test-" });
  return { root, runDir: join(root, "run"), cacheDir: join(root, "cache") };
}

const quiet = createLogger({ quiet: true });

Deno.test("runner runs stages, records run.json with output hashes, and serves a rerun from the cache", async () => {
  const { root, runDir, cacheDir } = await tempDirs();
  const calls: string[] = [];
  const config = resolveConfig("smoke", { seed: 7 });
  await runPipeline(toyStages(calls), { config, runDir, cacheDir, stages: ["decode"], log: quiet });
  assert.deepEqual(calls, ["fetch", "decode"]);
  const first = await readRunManifest(runDir);
  assert.equal(first?.status, "done");
  assert.equal(first?.stages.fetch?.status, "done");
  assert.deepEqual(first?.stages.fetch?.summary, { value: 7 });
  const outputs = first?.stages.fetch?.outputs ?? [];
  assert.deepEqual(outputs.map((o) => o.path), ["sub/note.txt", "value.txt"]);
  assert.equal(outputs[1].sha256, await sha256Hex("7"));
  assert.equal(first?.config.seed, 7);
  assert.match(first?.env.denoLockSha256 ?? "", /^[0-9a-f]{64}$/);

  // Same settings into a fresh run folder: nothing runs, the files appear from the cache.
  const runDir2 = join(root, "run2");
  await runPipeline(toyStages(calls), { config, runDir: runDir2, cacheDir, stages: ["decode"], log: quiet });
  assert.deepEqual(calls, ["fetch", "decode"]);
  const second = await readRunManifest(runDir2);
  assert.equal(second?.stages.fetch?.status, "cached");
  assert.equal(second?.stages.decode?.status, "cached");
  assert.equal(await Deno.readTextFile(join(runDir2, "decode", "double.txt")), "14");
  assert.equal(await Deno.readTextFile(join(runDir2, "fetch", "sub", "note.txt")), "nested");
  await Deno.remove(root, { recursive: true });
});

Deno.test("runner says why a stage reruns: a changed param, then a changed input", async () => {
  const { root, runDir, cacheDir } = await tempDirs();
  const calls: string[] = [];
  await runPipeline(toyStages(calls), {
    config: resolveConfig("smoke", { seed: 1, epochs: 2 }),
    runDir,
    cacheDir,
    stages: ["decode"],
    log: quiet,
  });
  await runPipeline(toyStages(calls), {
    config: resolveConfig("smoke", { seed: 1, epochs: 3 }),
    runDir,
    cacheDir,
    stages: ["decode"],
    log: quiet,
  });
  let m = await readRunManifest(runDir);
  assert.equal(m?.stages.fetch?.status, "cached");
  assert.equal(m?.stages.decode?.reason, "param epochs changed: 2 → 3");
  await runPipeline(toyStages(calls), {
    config: resolveConfig("smoke", { seed: 2, epochs: 3 }),
    runDir,
    cacheDir,
    stages: ["decode"],
    log: quiet,
  });
  m = await readRunManifest(runDir);
  assert.equal(m?.stages.fetch?.reason, "param seed changed: 1 → 2");
  assert.equal(m?.stages.decode?.reason, "input fetch changed");
  assert.deepEqual(calls, ["fetch", "decode", "decode", "fetch", "decode"]);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a failing stage is recorded in run.json and leaves no cache entry; a good run afterwards works", async () => {
  const { root, runDir, cacheDir } = await tempDirs();
  const calls: string[] = [];
  const config = resolveConfig("smoke");
  await assert.rejects(
    runPipeline(toyStages(calls, { failDecode: true }), {
      config,
      runDir,
      cacheDir,
      stages: ["decode"],
      log: quiet,
    }),
    /broken on purpose/,
  );
  const m = await readRunManifest(runDir);
  assert.equal(m?.status, "failed");
  assert.equal(m?.stages.decode?.status, "failed");
  assert.equal(m?.error, "error: [decode] Cannot decode value.txt: broken on purpose");
  const entries: string[] = [];
  try {
    for await (const e of Deno.readDir(join(cacheDir, "decode"))) entries.push(e.name);
  } catch (err) {
    assert.ok(err instanceof Deno.errors.NotFound);
  }
  assert.deepEqual(entries, [], "no cache entry, not even a temporary folder");
  await runPipeline(toyStages(calls), { config, runDir, cacheDir, stages: ["decode"], log: quiet });
  assert.deepEqual(calls, ["fetch", "decode", "decode"]);
  assert.equal((await readRunManifest(runDir))?.status, "done");
  await Deno.remove(root, { recursive: true });
});

Deno.test("an unwritable run folder is one clear line", async () => {
  const { root, cacheDir } = await tempDirs();
  const file = join(root, "a-file");
  await Deno.writeTextFile(file, "");
  await assert.rejects(
    runPipeline(toyStages([]), {
      config: resolveConfig("smoke"),
      runDir: join(file, "run"),
      cacheDir,
      stages: ["fetch"],
      log: quiet,
    }),
    (err: unknown) =>
      err instanceof PipelineError && /^Cannot write to the run folder .*a-file\/run: /.test(err.message),
  );
  await Deno.remove(root, { recursive: true });
});

Deno.test("withUpstream adds what a stage needs, in pipeline order", () => {
  const stages = toyStages([]);
  assert.deepEqual(withUpstream(stages, ["decode"]).map((s) => s.name), ["fetch", "decode"]);
  assert.deepEqual(withUpstream(stages, ["fetch"]).map((s) => s.name), ["fetch"]);
});

Deno.test("explainRerun names code changes by file", () => {
  const before = { params: { a: 1 }, inputs: {}, code: { "pipeline/x.ts": "1", "lib/y.ts": "2" } };
  const now = { params: { a: 1 }, inputs: {}, code: { "pipeline/x.ts": "1", "lib/y.ts": "3" } };
  assert.equal(explainRerun(before, now), "code changed: lib/y.ts");
  assert.equal(explainRerun(undefined, now), "no cached result for these settings");
  assert.equal(explainRerun(now, now), "cache entry missing (the cache was cleared or moved)");
});

/** One toy "fetch" stage that waits for `gate` before it writes its file. */
function gatedStage(gate: Promise<void>): StageDefinition[] {
  return [{
    name: "fetch",
    deps: [],
    module: new URL(import.meta.url),
    params: () => ({}),
    async run(ctx) {
      await gate;
      await Deno.writeTextFile(join(ctx.dir, "value.txt"), "v");
    },
  }];
}

Deno.test("--pretrained /nonexistent stops before the first stage, and run.json says failed with the line", async () => {
  const root = await Deno.makeTempDir({ prefix: "preflight-" });
  const runDir = join(root, "run");
  await assert.rejects(
    runPipeline(STAGES, {
      config: resolveConfig("smoke", { pretrained: "/nonexistent/weights.safetensors" }),
      runDir,
      cacheDir: join(root, "cache"),
      stages: ["train"],
      log: quiet,
    }),
    (err: unknown) =>
      err instanceof PipelineError && /Cannot read --pretrained \/nonexistent/.test(err.message),
  );
  const m = await readRunManifest(runDir);
  assert.equal(m?.status, "failed");
  assert.match(
    m?.error ?? "",
    /^error: \[train\] Cannot read --pretrained \/nonexistent\/weights\.safetensors: /,
  );
  assert.deepEqual(Object.values(m?.stages ?? {}).map((s) => s.status), [
    "pending",
    "pending",
    "pending",
    "pending",
  ]);
  await assert.rejects(Deno.stat(join(runDir, "fetch")), Deno.errors.NotFound, "fetch never ran");
  await Deno.remove(root, { recursive: true });
});

Deno.test("run.json records the process and a heartbeat while it runs", async () => {
  const root = await Deno.makeTempDir({ prefix: "heartbeat-" });
  const runDir = join(root, "run");
  let open!: () => void;
  const gate = new Promise<void>((r) => open = r);
  const run = runPipeline(gatedStage(gate), {
    config: resolveConfig("smoke"),
    runDir,
    cacheDir: join(root, "c"),
    stages: ["fetch"],
    log: quiet,
    heartbeatSeconds: 0.05,
  });
  await new Promise((r) => setTimeout(r, 300));
  const m = await readRunManifest(runDir);
  assert.equal(m?.status, "running");
  assert.equal(m?.process?.pid, Deno.pid);
  assert.ok(Date.now() - Date.parse(m?.heartbeatAt ?? "") < 250, `recent heartbeat: ${m?.heartbeatAt}`);
  open();
  await run;
  await Deno.remove(root, { recursive: true });
});
