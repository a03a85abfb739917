/**
 * The commands a careless user meets with a full disk or a typo: each fault is one line naming the command,
 * the file and what is wrong, with a non-zero exit, and nothing written or removed (issue 22, items 4 and 5).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
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
