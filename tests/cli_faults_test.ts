/**
 * The commands a careless user meets with a full disk or a typo: each fault is one line naming the command,
 * the file and what is wrong, with a non-zero exit, and nothing written or removed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { encodePng } from "../lib/figures/mod.ts";
import { makeModelRun } from "./fixtures/model_run.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function command(script: string, args: string[], options: { cwd?: string } = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-webgpu", join(ROOT, script), ...args],
    env: { NO_COLOR: "1" },
    cwd: options.cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr).trim() };
}

async function listing(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

Deno.test("export --out: a file, a path under a file, an unwritable place or nothing is one line, nothing written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_faults_export_" });
  try {
    const run = join(dir, "run");
    await makeModelRun(run, { arch: "tiny" });
    const file = join(dir, "notes.txt");
    await Deno.writeTextFile(file, "keep me");
    const before = await listing(dir);
    const exportTo = (out: string) =>
      command("pipeline/export.ts", ["--run", run, "--format", "safetensors", "--out", out]);

    const onFile = await exportTo(file);
    assert.equal(onFile.code, 2, onFile.stderr);
    assert.equal(onFile.stderr, `error: [usage] --out ${file} is a file, not a folder; nothing was written`);
    const under = await exportTo(join(file, "export"));
    assert.equal(under.code, 1, under.stderr);
    assert.equal(under.stderr, `error: [export] Cannot write to ${join(file, "export")}: not a directory`);
    const sys = await exportTo("/sys/resnet-cifar-export");
    assert.equal(sys.code, 1, sys.stderr);
    assert.match(sys.stderr, /^error: \[export\] Cannot write to \/sys\/resnet-cifar-export: [^\n]+$/);
    const empty = await exportTo("");
    assert.equal(empty.code, 2);
    assert.equal(empty.stderr, 'error: [usage] --out must name a folder, got ""');
    assert.equal(await Deno.readTextFile(file), "keep me");
    assert.deepEqual(await listing(dir), before, "nothing was written");

    const good = await exportTo(join(dir, "out"));
    assert.equal(good.code, 0, good.stderr);
    assert.deepEqual(await listing(join(dir, "out")), ["model.safetensors", "preprocessing.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test('pipeline --cache-dir "" and cache --cache-dir "" are refused as --out "" is; nothing is written', async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_faults_cache_dir_" });
  try {
    const pipeline = await command("pipeline/main.ts", [
      "--preset",
      "smoke",
      "--cache-dir",
      "",
      "--out",
      "run",
    ], {
      cwd: dir,
    });
    assert.equal(pipeline.code, 2, pipeline.stderr);
    assert.equal(pipeline.stderr, 'error: [usage] --cache-dir must name a folder, got ""');
    const cache = await command("pipeline/cache.ts", ["--cache-dir", " "], { cwd: dir });
    assert.equal(cache.code, 2, cache.stderr);
    assert.equal(cache.stderr, 'error: [usage] --cache-dir must name a folder, got " "');
    assert.deepEqual(await listing(dir), [], "nothing written into the current folder");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("classify and export check the checkpoint against run.json's SHA-256: a changed byte is one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_faults_sha_" });
  try {
    const run = join(dir, "run");
    await makeModelRun(run, { arch: "tiny" });
    const picture = join(dir, "grey.png");
    await Deno.writeFile(
      picture,
      encodePng({ width: 8, height: 8, channels: 3, data: new Uint8Array(192).fill(90) }),
    );
    const intact = await command("pipeline/classify.ts", ["--run", run, picture]);
    assert.equal(intact.code, 0, intact.stderr);
    assert.equal(intact.stderr, "", "a checked checkpoint says nothing");

    // one weight's lowest bit: still a finite, small weight that loads, but not the one the run saved
    const weights = join(run, "train", "checkpoints", "best", "weights.bin");
    const bytes = await Deno.readFile(weights);
    bytes[400] ^= 1;
    await Deno.writeFile(weights, bytes);
    const damaged = new RegExp(
      `^error: \\[(classify|export)\\] Cannot use ${weights}: it differs from the SHA-256 run\\.json ` +
        `recorded for it \\(changed or damaged since the run\\); rerun the train stage, or restore the file$`,
    );
    const classify = await command("pipeline/classify.ts", ["--run", run, picture]);
    assert.equal(classify.code, 1, classify.stderr);
    assert.match(classify.stderr, damaged);
    assert.equal(classify.stdout, "", "no answer from a damaged checkpoint");
    const exported = await command("pipeline/export.ts", ["--run", run, "--format", "safetensors"]);
    assert.equal(exported.code, 1, exported.stderr);
    assert.match(exported.stderr, damaged);
    await assert.rejects(Deno.stat(join(run, "export", "model.safetensors")), Deno.errors.NotFound);

    // a run whose train stage recorded nothing (still training): classified, and said to be unchecked
    const manifest = JSON.parse(await Deno.readTextFile(join(run, "run.json")));
    delete manifest.stages.train.outputs;
    await Deno.writeTextFile(join(run, "run.json"), JSON.stringify(manifest));
    const unchecked = await command("pipeline/classify.ts", ["--run", run, picture]);
    assert.equal(unchecked.code, 0, unchecked.stderr);
    assert.equal(
      unchecked.stderr,
      `warning: [classify] ${join(run, "train", "checkpoints", "best")} was not checked: run.json records ` +
        `no SHA-256 for it (the train stage has not finished)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cache prune --keep-runs with a typo, an empty folder or no runs/ is an error; nothing is removed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_faults_prune_" });
  try {
    const cache = join(dir, "cache");
    const entry = join(cache, "train", "a".repeat(64));
    await Deno.mkdir(join(entry, "files"), { recursive: true });
    await Deno.writeTextFile(join(entry, "manifest.json"), '{"createdAt":"2026-01-01T00:00:00.000Z"}');
    await Deno.mkdir(join(dir, "empty"));
    const prune = (...args: string[]) =>
      command("pipeline/cache.ts", ["prune", "--cache-dir", cache, ...args], { cwd: dir });

    const typo = await prune("--keep-runs", join(dir, "rnus"));
    assert.equal(typo.code, 2, typo.stderr);
    assert.equal(
      typo.stderr,
      `error: [usage] --keep-runs ${join(dir, "rnus")} is not a folder: prune would remove every entry as ` +
        `used by no run; name the folder of your runs (to empty the whole cache, delete ${cache})`,
    );
    const empty = await prune("--keep-runs", join(dir, "empty"), "--dry-run");
    assert.equal(empty.code, 2, empty.stderr);
    assert.match(
      empty.stderr,
      /^error: \[usage\] --keep-runs \S+empty holds no run folder \(no run\.json\): /,
    );
    const implicit = await prune();
    assert.equal(implicit.code, 2, implicit.stderr);
    assert.match(implicit.stderr, /^error: \[usage\] the default --keep-runs runs is not a folder: /);
    await Deno.stat(join(entry, "manifest.json")); // still there
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
