import assert from "node:assert/strict";
import { join } from "node:path";
import { parsePipelineArgs, resumeCommand } from "../pipeline/cli_options.ts";
import { plural } from "../lib/core/mod.ts";
import { UsageError } from "../lib/core/errors.ts";
import { serveBytes } from "./fixtures/http_fixture.ts";
import { makeBatchFiles, makeCifarArchive } from "./fixtures/data_fixtures.ts";

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

Deno.test("--version prints the project's, tfjs's and Deno's versions", async () => {
  const r = await pipeline(["--version"]);
  assert.equal(r.code, 0, r.stderr);
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const tfjs = denoJson.imports["@tensorflow/tfjs-core"].split("@").pop();
  assert.equal(
    r.stdout.trim().split("(")[0],
    `resnet-cifar-deno ${denoJson.version} `,
  );
  assert.match(r.stdout, new RegExp(`\\(tfjs ${tfjs.replaceAll(".", "\\.")}, Deno ${Deno.version.deno}, `));
});

Deno.test("the resume hint carries every flag a resume needs: --out, --cache-dir, --stages, quoted", () => {
  const plain = parsePipelineArgs(["--preset", "smoke", "--out", "runs/a"]);
  assert.equal(resumeCommand(plain, "runs/a"), "deno task pipeline --resume --out runs/a");
  const full = parsePipelineArgs([
    "--preset",
    "smoke",
    "--cache-dir",
    "/tmp/my cache",
    "--stages",
    "fetch,train",
    "--epochs",
    "3",
  ]);
  assert.equal(
    resumeCommand(full, "runs/été 1"),
    "deno task pipeline --resume --out 'runs/été 1' --cache-dir '/tmp/my cache' --stages fetch,train",
  );
});

Deno.test("plural: no '1 epochs'", () => {
  assert.equal(plural(1, "epoch"), "1 epoch");
  assert.equal(plural(0, "step"), "0 steps");
  assert.equal(plural(50000, "image"), "50,000 images");
  assert.equal(plural(2, "entry", "entries"), "2 entries");
});

Deno.test({
  name: "SIGTERM while a stage runs: run.json says interrupted, exit 130, and the resume hint",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cli-signal-" });
    const out = join(root, "run");
    // The download stalls part-way, so the fetch stage is running when the signal comes.
    const archive = await makeCifarArchive(makeBatchFiles());
    await using server = serveBytes(archive, { chunkBytes: 512, plan: [{ stallAfter: 1024 }] });
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--unstable-webgpu", MAIN, "--stages", "fetch", "--data-url", server.url]
        .concat(["--out", out, "--cache-dir", join(root, "cache")]),
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const runJson = join(out, "run.json");
    const status = async () => {
      try {
        return JSON.parse(await Deno.readTextFile(runJson)).stages?.fetch?.status;
      } catch {
        return undefined;
      }
    };
    for (let i = 0; i < 600 && (await status()) !== "running"; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await status(), "running", "the fetch stage started");
    child.kill("SIGTERM");
    const done = await child.output();
    assert.equal(done.code, 130);
    const manifest = JSON.parse(await Deno.readTextFile(runJson));
    assert.equal(manifest.status, "interrupted");
    assert.match(
      new TextDecoder().decode(done.stderr),
      /interrupted: resume with {2}deno task pipeline --resume --out \S+ --cache-dir \S+ --stages fetch/,
    );
    await Deno.remove(root, { recursive: true });
  },
});
