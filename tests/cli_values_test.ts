import assert from "node:assert/strict";
import { join } from "node:path";
import { parsePipelineArgs } from "../pipeline/cli_options.ts";
import { preflight } from "../pipeline/main.ts";
import { resolveConfig } from "../lib/config/config.ts";
import { UsageError } from "../lib/core/errors.ts";
import { createLogger } from "../lib/core/log.ts";

const MAIN = new URL("../pipeline/main.ts", import.meta.url).pathname;

async function pipeline(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-webgpu", MAIN, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("a negative number is taken as a flag's value and gets the flag's own message", () => {
  for (const argv of [["--lr-max", "-0.1"], ["--lr-max=-0.1"]]) {
    assert.throws(
      () => parsePipelineArgs(argv),
      (err: unknown) =>
        err instanceof UsageError && err.message === "--lr-max must be between 0 and 10, got -0.1",
    );
  }
  assert.throws(
    () => parsePipelineArgs(["--seed", "-3"]),
    (err: unknown) =>
      err instanceof UsageError && /^--seed must be between 0 and 4294967295, got -3$/.test(err.message),
  );
  assert.equal(parsePipelineArgs(["--momentum", "0.5"]).overrides.momentum, 0.5);
});

Deno.test("--num-classes below CIFAR-10's 10 and --lr-min above --lr-max are usage errors before any stage; lr 0 throughout is a warning", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), tty: false });
  assert.throws(
    () => preflight(resolveConfig("smoke", { numClasses: 5 }), log),
    (err: unknown) =>
      err instanceof UsageError &&
      /^--num-classes 5 is fewer than the 10 classes of CIFAR-10/.test(err.message),
  );
  const lrArgs = parsePipelineArgs(["--lr-max", "1e-4", "--lr-min", "1e-3"]);
  assert.throws(
    () => preflight(resolveConfig("smoke", lrArgs.overrides), log),
    (err: unknown) => err instanceof UsageError && /must not exceed/.test(err.message),
  );
  preflight(resolveConfig("smoke", { lrMax: 0, lrMin: 0 }), log);
  assert.deepEqual(lines, [
    "warning: --lr-max 0 and --lr-min 0: the learning rate is 0 throughout, so training changes no weight",
  ]);
});

Deno.test("the command: --num-classes 5 and --lr-max -0.1 exit 2 with one line, and nothing is written", async () => {
  const root = await Deno.makeTempDir({ prefix: "cli-values-" });
  const out = join(root, "run");
  const classes = await pipeline(["--preset", "smoke", "--num-classes", "5", "--out", out]);
  assert.equal(classes.code, 2);
  assert.match(
    classes.stderr.trim(),
    /^error: \[usage\] --num-classes 5 is fewer than the 10 classes of CIFAR-10[^\n]*$/,
  );
  const lr = await pipeline(["--preset", "smoke", "--lr-max", "-0.1", "--out", out]);
  assert.equal(lr.code, 2);
  assert.equal(lr.stderr.trim(), "error: [usage] --lr-max must be between 0 and 10, got -0.1");
  await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
  const empty = await pipeline(["--preset", "smoke", "--out", ""]);
  assert.equal(empty.code, 2);
  assert.equal(empty.stderr.trim(), 'error: [usage] --out must name a folder, got ""');
  await Deno.remove(root, { recursive: true });
});
