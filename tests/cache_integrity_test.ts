import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveConfig } from "../lib/config/config.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { createLogger } from "../lib/core/log.ts";
import { readRunManifest } from "../lib/run/manifest.ts";
import type { StageDefinition } from "../lib/run/stage.ts";
import { runPipeline } from "../lib/run/runner.ts";

/** "fetch" writes value.txt from the seed; "decode" (resumable) appends a line to log.txt on every run. */
function toyStages(calls: string[]): StageDefinition[] {
  return [
    {
      name: "fetch",
      deps: [],
      module: new URL(import.meta.url),
      params: (c) => ({ seed: c.seed }),
      async run(ctx) {
        calls.push("fetch");
        await Deno.writeTextFile(join(ctx.dir, "value.txt"), `value ${ctx.config.seed}\n`);
        return { value: ctx.config.seed };
      },
    },
    {
      name: "decode",
      deps: ["fetch"],
      module: new URL(import.meta.url),
      params: (c) => ({ epochs: c.epochs }),
      resumable: true,
      async run(ctx) {
        calls.push(ctx.resume ? "decode (resumed)" : "decode");
        // Appends in place, as the train stage's metrics log does on --resume.
        using file = await Deno.open(join(ctx.dir, "log.txt"), { append: true, create: true });
        await file.write(new TextEncoder().encode(`ran ${calls.length}\n`));
      },
    },
  ];
}

async function setup() {
  const root = await Deno.makeTempDir({ prefix: "cache-integrity-" });
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), tty: false });
  return { root, cacheDir: join(root, "cache"), lines, log };
}

async function entryDir(cacheDir: string, stage: string): Promise<string> {
  for await (const e of Deno.readDir(join(cacheDir, stage))) {
    if (e.isDirectory && /^[0-9a-f]{64}$/.test(e.name)) return join(cacheDir, stage, e.name);
  }
  throw new Error(`no ${stage} entry`);
}

async function flipByte(path: string, at = 0) {
  await Deno.chmod(path, 0o644);
  const bytes = await Deno.readFile(path);
  bytes[at] ^= 0x01;
  await Deno.writeFile(path, bytes);
}

const config = resolveConfig("smoke", { seed: 5 });

Deno.test("a flipped byte in a cached output is never served: the entry is dropped, rebuilt, and the run says why", async () => {
  const { root, cacheDir, lines, log } = await setup();
  const calls: string[] = [];
  await runPipeline(toyStages(calls), { config, runDir: join(root, "a"), cacheDir, stages: ["decode"], log });
  const fetchEntry = await entryDir(cacheDir, "fetch");
  await flipByte(join(fetchEntry, "files", "value.txt"), 2);

  await runPipeline(toyStages(calls), { config, runDir: join(root, "b"), cacheDir, stages: ["decode"], log });
  assert.deepEqual(calls, ["fetch", "decode", "fetch"], "fetch rebuilt; decode's input is unchanged again");
  const m = await readRunManifest(join(root, "b"));
  assert.equal(m?.stages.fetch?.status, "done");
  assert.match(
    m?.stages.fetch?.reason ?? "",
    /^cache entry damaged: files\/value\.txt differs from its recorded SHA-256/,
  );
  assert.ok(
    lines.some((l) =>
      /^fetch: cache entry [0-9a-f]{12} is damaged \(files\/value\.txt differs .*\); dropped, rebuilding$/
        .test(l)
    ),
    lines.join("\n"),
  );
  assert.equal(await Deno.readTextFile(join(root, "b", "fetch", "value.txt")), "value 5\n");
  assert.equal(m?.stages.decode?.status, "cached");
  await Deno.remove(root, { recursive: true });
});

Deno.test("a single-byte change anywhere in an entry (manifest, seal, summary) rebuilds it", async () => {
  const { root, cacheDir, log } = await setup();
  for (const target of ["manifest.json", "manifest.sha256"]) {
    const calls: string[] = [];
    await runPipeline(toyStages(calls), {
      config,
      runDir: join(root, `x-${target}`),
      cacheDir,
      stages: ["fetch"],
      log,
    });
    const entry = await entryDir(cacheDir, "fetch");
    const path = join(entry, target);
    const text = await Deno.readTextFile(path);
    // Change one character of the summary's value (manifest) or of the seal's hex.
    const at = target === "manifest.json" ? text.indexOf('"value": 5') + 9 : 0;
    await flipByte(path, at);
    await runPipeline(toyStages(calls), {
      config,
      runDir: join(root, `y-${target}`),
      cacheDir,
      stages: ["fetch"],
      log,
    });
    const m = await readRunManifest(join(root, `y-${target}`));
    assert.equal(m?.stages.fetch?.status, "done", target);
    assert.match(m?.stages.fetch?.reason ?? "", /manifest\.json does not match manifest\.sha256/, target);
    assert.deepEqual(m?.stages.fetch?.summary, { value: 5 }, target);
  }
  await Deno.remove(root, { recursive: true });
});

Deno.test("cache entries are read-only files, and so are the run folder's links to them", async () => {
  const { root, cacheDir, log } = await setup();
  await runPipeline(toyStages([]), { config, runDir: join(root, "a"), cacheDir, stages: ["decode"], log });
  const entry = await entryDir(cacheDir, "fetch");
  for (
    const path of [
      join(entry, "files", "value.txt"),
      join(entry, "manifest.json"),
      join(entry, "manifest.sha256"),
    ]
  ) {
    assert.equal((await Deno.stat(path)).mode! & 0o222, 0, `${path} is read-only`);
  }
  const linked = await Deno.stat(join(root, "a", "fetch", "value.txt"));
  assert.equal(linked.mode! & 0o222, 0);
  assert.equal(linked.nlink, 2, "one inode: the cache entry and the run folder");
  await Deno.remove(root, { recursive: true });
});

Deno.test("a resumed stage continues on private copies: nothing writes through a link into the cache or another run", async () => {
  const { root, cacheDir, log } = await setup();
  const calls: string[] = [];
  const a = join(root, "a"), c = join(root, "c");
  await runPipeline(toyStages(calls), { config, runDir: a, cacheDir, stages: ["decode"], log });
  await runPipeline(toyStages(calls), { config, runDir: c, cacheDir, stages: ["decode"], log });
  const before = await Deno.readTextFile(join(c, "decode", "log.txt"));
  assert.equal((await readRunManifest(c))?.stages.decode?.status, "cached");
  // The entry goes (damaged here; cleared caches do the same), so a --resume of `a` continues in place.
  await Deno.remove(join(await entryDir(cacheDir, "decode"), "manifest.sha256"));
  await runPipeline(toyStages(calls), { config, runDir: a, cacheDir, stages: ["decode"], resume: true, log });
  assert.equal(calls.at(-1), "decode (resumed)");
  assert.equal(await Deno.readTextFile(join(a, "decode", "log.txt")), before + `ran ${calls.length}\n`);
  assert.equal(
    await Deno.readTextFile(join(c, "decode", "log.txt")),
    before,
    "the other run folder is untouched",
  );
  const entry = await entryDir(cacheDir, "decode");
  assert.equal(await Deno.readTextFile(join(entry, "files", "log.txt")), before + `ran ${calls.length}\n`);
  await Deno.remove(root, { recursive: true });
});

Deno.test("--resume refuses a run whose upstream params differ, in one line, exit 2, run.json untouched", async () => {
  const { root, cacheDir, log } = await setup();
  const calls: string[] = [];
  const a = join(root, "a");
  await runPipeline(toyStages(calls), { config, runDir: a, cacheDir, stages: ["decode"], log });
  const before = await Deno.readTextFile(join(a, "run.json"));
  await assert.rejects(
    runPipeline(toyStages(calls), {
      config: { ...config, seed: 6 },
      runDir: a,
      cacheDir,
      stages: ["decode"],
      resume: true,
      log,
    }),
    (err: unknown) =>
      err instanceof PipelineError && err.exitCode === 2 && !err.message.includes("\n") &&
      /^--resume: the fetch stage of this run was made with other settings \(param seed changed: 5 → 6\)/
        .test(err.message),
  );
  assert.deepEqual(calls, ["fetch", "decode"], "nothing ran");
  assert.equal(await Deno.readTextFile(join(a, "run.json")), before);
  await Deno.remove(root, { recursive: true });
});
