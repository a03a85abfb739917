import assert from "node:assert/strict";
import { join } from "node:path";
import { parsePipelineArgs } from "../pipeline/cli_options.ts";
import { UsageError } from "../lib/core/errors.ts";

const MAIN = new URL("../pipeline/main.ts", import.meta.url).pathname;

async function pipeline(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-webgpu", MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("parsePipelineArgs maps flags onto config overrides", () => {
  const args = parsePipelineArgs([
    "--preset",
    "quick",
    "--epochs",
    "3",
    "--batch-size",
    "64",
    "--train-limit",
    "all",
    "--mean",
    "0.5,0.5,0.5",
    "--stages",
    "fetch,decode",
  ]);
  assert.equal(args.preset, "quick");
  assert.deepEqual(args.stages, ["fetch", "decode"]);
  assert.deepEqual(args.overrides, { epochs: 3, batchSize: 64, trainLimit: null, mean: [0.5, 0.5, 0.5] });
});

Deno.test("--width takes a base width, or 'arch' for the family's own", () => {
  assert.equal(parsePipelineArgs(["--width", "16"]).overrides.width, 16);
  assert.equal(parsePipelineArgs(["--width", "arch"]).overrides.width, null);
});

Deno.test("parsePipelineArgs refuses bad values with one line each", () => {
  const cases: [string[], RegExp][] = [
    [["--epochs", "0"], /^--epochs must be between 1 and 10000, got 0$/],
    [["--batch-size", "ten"], /^--batch-size must be an integer, got "ten"$/],
    [["--backend", "wasm"], /^--backend must be one of webgpu, cpu, got "wasm"$/],
    [["--stages", "fetch,train2"], /^--stages: unknown stage "train2"/],
    [["--preset", "fast"], /^--preset must be one of seed, quick, smoke/],
    [["--nope"], /^Unknown option '--nope'/],
    [["--lr-max", "1e-4", "--lr-min", "1e-3"], /must not exceed/],
    [["--width", "0"], /^--width must be between 1 and 4096, got 0$/],
  ];
  for (const [argv, pattern] of cases) {
    assert.throws(
      () => parsePipelineArgs(argv),
      (err: unknown) => err instanceof UsageError && pattern.test(err.message),
    );
  }
});

Deno.test("the command prints --help, and exits 2 with one line on a bad option", async () => {
  const help = await pipeline(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: deno task pipeline/);
  assert.match(help.stdout, /--data-url URL/);

  const bad = await pipeline(["--epochs", "many"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim(), 'error: [usage] --epochs must be an integer, got "many"');
});

Deno.test("an unwritable --out ends with exit 1 and one line naming the folder", async () => {
  const root = await Deno.makeTempDir();
  const file = join(root, "not-a-dir");
  await Deno.writeTextFile(file, "");
  const r = await pipeline([
    "--stages",
    "fetch",
    "--out",
    join(file, "run"),
    "--cache-dir",
    join(root, "cache"),
  ]);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^error: \[run\] Cannot write to the run folder .*not-a-dir\/run: /);
  await Deno.remove(root, { recursive: true });
});

Deno.test("--resume without a run to resume is a usage error", async () => {
  const root = await Deno.makeTempDir();
  const r = await pipeline(["--resume", "--out", join(root, "nothing")]);
  assert.equal(r.code, 2);
  assert.match(r.stderr.trim(), /^error: \[usage\] --resume: no run\.json in /);
  await Deno.remove(root, { recursive: true });
});
