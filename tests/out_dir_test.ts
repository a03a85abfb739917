import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveConfig } from "../lib/config/config.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { createLogger } from "../lib/core/log.ts";
import { acquireLock } from "../lib/core/lock.ts";
import { currentProcess } from "../lib/core/process.ts";
import { readRunManifest } from "../lib/run/manifest.ts";
import type { StageDefinition } from "../lib/run/stage.ts";
import { runPipeline } from "../lib/run/runner.ts";

/** One toy "fetch" stage that waits for `gate` (when given) before it writes its file. */
function toyStage(gate?: Promise<void>): StageDefinition[] {
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

const quiet = createLogger({ quiet: true });
const config = resolveConfig("smoke");

function usageError(pattern: RegExp) {
  return (err: unknown) =>
    err instanceof PipelineError && err.exitCode === 2 && !err.message.includes("\n") &&
    pattern.test(err.message);
}

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) out.push(...(await tree(join(dir, e.name))).map((n) => `${e.name}/${n}`));
    else out.push(e.name);
  }
  return out.sort();
}

Deno.test("--out refuses a folder that is not a run folder, touching nothing; new, empty and run folders are fine", async () => {
  const root = await Deno.makeTempDir({ prefix: "out-guard-" });
  const cacheDir = join(root, "cache");
  const foreign = join(root, "photos");
  await Deno.mkdir(join(foreign, "train"), { recursive: true });
  await Deno.mkdir(join(foreign, "fetch"), { recursive: true });
  await Deno.writeTextFile(join(foreign, "train", "holiday.jpg"), "mine");
  await Deno.writeTextFile(join(foreign, "fetch", "notes.txt"), "mine too");
  const opts = { config, cacheDir, stages: ["fetch"] as const, log: quiet };
  await assert.rejects(
    runPipeline(toyStage(), { ...opts, runDir: foreign }),
    usageError(/^--out .*photos is not empty and not a run folder \(no run\.json; it holds fetch, train\)/),
  );
  assert.deepEqual(await tree(foreign), ["fetch/notes.txt", "train/holiday.jpg"], "nothing touched");

  await Deno.writeTextFile(join(root, "file"), "x");
  await assert.rejects(
    runPipeline(toyStage(), { ...opts, runDir: join(root, "file") }),
    usageError(/is a file/),
  );
  await assert.rejects(
    runPipeline(toyStage(), { ...opts, runDir: "" }),
    usageError(/^--out must name a folder/),
  );
  await Deno.mkdir(join(root, "alien"));
  await Deno.writeTextFile(join(root, "alien", "run.json"), '{"name": "someone else"}');
  await assert.rejects(
    runPipeline(toyStage(), { ...opts, runDir: join(root, "alien") }),
    usageError(/did not write/),
  );

  await Deno.mkdir(join(root, "empty"));
  await runPipeline(toyStage(), { ...opts, runDir: join(root, "empty") });
  await runPipeline(toyStage(), { ...opts, runDir: join(root, "empty") }); // now a run folder: fine again
  await runPipeline(toyStage(), { ...opts, runDir: join(root, "new", "deeper") });
  assert.equal((await readRunManifest(join(root, "new", "deeper")))?.status, "done");
  await Deno.remove(root, { recursive: true });
});

Deno.test("two runs into one folder: the second exits 2 naming the holder (pid, since); the first finishes", async () => {
  const root = await Deno.makeTempDir({ prefix: "lock-" });
  const runDir = join(root, "run");
  let open!: () => void;
  const gate = new Promise<void>((r) => open = r);
  const first = runPipeline(toyStage(gate), {
    config,
    runDir,
    cacheDir: join(root, "c1"),
    stages: ["fetch"],
    log: quiet,
  });
  // Wait until the first run holds the folder.
  for (let i = 0; i < 200 && !(await Deno.stat(join(runDir, "run.json")).catch(() => null)); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await assert.rejects(
    runPipeline(toyStage(), { config, runDir, cacheDir: join(root, "c2"), stages: ["fetch"], log: quiet }),
    usageError(new RegExp(`^the run folder .*run is locked by pid ${Deno.pid} since \\d{4}-\\d\\d-\\d\\dT`)),
  );
  open();
  assert.equal((await first).status, "done");
  await assert.rejects(Deno.stat(join(runDir, ".lock")), Deno.errors.NotFound, "released at the end");
  await Deno.remove(root, { recursive: true });
});

Deno.test("a stale lock of a dead process is taken over with a note", async () => {
  const root = await Deno.makeTempDir({ prefix: "stale-" });
  const runDir = join(root, "run");
  const child = new Deno.Command("true").spawn();
  await child.status; // its pid is now gone
  await Deno.mkdir(runDir);
  const me = currentProcess();
  await Deno.writeTextFile(
    join(runDir, ".lock"),
    JSON.stringify({ pid: child.pid, host: me.host, startTicks: 1, since: "2026-01-01T00:00:00.000Z" }),
  );
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), tty: false });
  await runPipeline(toyStage(), { config, runDir, cacheDir: join(root, "c"), stages: ["fetch"], log });
  assert.ok(
    lines.includes(
      `note: took over the stale lock of the run folder ${runDir}: pid ${child.pid} (since 2026-01-01T00:00:00.000Z) is gone`,
    ),
    lines.join("\n"),
  );
  await Deno.remove(root, { recursive: true });
});

Deno.test("a lock held by a live process is refused", async () => {
  const root = await Deno.makeTempDir({ prefix: "lock-live-" });
  const held = await acquireLock(join(root, "x.lock"), { stage: "run", what: "the thing" });
  await assert.rejects(
    acquireLock(join(root, "x.lock"), { stage: "run", what: "the thing" }),
    (err: unknown) =>
      err instanceof PipelineError && /^the thing is locked by pid \d+ since /.test(err.message),
  );
  await held.release();
  const again = await acquireLock(join(root, "x.lock"), { stage: "run", what: "the thing" });
  await again.release();
  await Deno.remove(root, { recursive: true });
});
