/**
 * The cache and the run folder through the command, on a real smoke run: a resume with other upstream
 * settings is refused (it would poison the cache), a flipped byte in a cached fetch member is found and
 * rebuilt, and a damaged checkpoint is one line naming the file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { RunManifest } from "../lib/contract/mod.ts";
import { OFFICIAL_SHA256 } from "../lib/data/cifar_format.ts";
import { runPipelineCli } from "./fixtures/pipeline_cli.ts";
import { dataTest } from "./fixtures/shared_data.ts";

async function manifestOf(runDir: string): Promise<RunManifest> {
  return JSON.parse(await Deno.readTextFile(join(runDir, "run.json")));
}

function stderrLines(stderr: string): string[] {
  return stderr.trim().split("\n").filter((l) => l !== "" && !l.includes("XDG_RUNTIME_DIR"));
}

dataTest({
  name:
    "e2e: a resume with other settings is refused, a flipped cache byte is rebuilt, a damaged checkpoint is one line",
  sanitizeResources: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "resume-cache-" });
    const cache = join(root, "cache");
    const r = join(root, "r");
    const first = await runPipelineCli(["--preset", "smoke", "--out", r, "--cache-dir", cache]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const before = await Deno.readTextFile(join(r, "run.json"));

    // 1. Other augment settings under --resume: one line, exit 2, and nothing is run or cached.
    const resumed = await runPipelineCli([
      "--resume",
      "--out",
      r,
      "--cache-dir",
      cache,
      "--crop-padding",
      "0",
      "--flip-probability",
      "0",
    ]);
    assert.equal(resumed.code, 2, resumed.stdout + resumed.stderr);
    const lines = stderrLines(resumed.stderr);
    assert.equal(lines.length, 1, resumed.stderr);
    assert.match(
      lines[0],
      /^error: \[usage\] --resume: the augment stage of this run was made with other settings \(param cropPadding changed: 4 → 0; param flipProbability changed: 0\.5 → 0\)/,
    );
    assert.equal(await Deno.readTextFile(join(r, "run.json")), before, "run.json untouched");
    const fresh = await runPipelineCli([
      "--preset",
      "smoke",
      "--out",
      join(root, "fresh"),
      "--cache-dir",
      cache,
      "--crop-padding",
      "0",
      "--flip-probability",
      "0",
      "--stages",
      "train",
    ]);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stdout, /^train: running \(input augment changed\)$/m, "not served the other model");

    // 2. One flipped byte in the cached data_batch_1.bin: found on the next hit, dropped, rebuilt.
    const fetchKey = (await manifestOf(r)).stages.fetch!.key!;
    const member = join(cache, "fetch", fetchKey, "files", "data_batch_1.bin");
    await Deno.chmod(member, 0o644);
    const bytes = await Deno.readFile(member);
    bytes[123_456] ^= 0x01;
    await Deno.writeFile(member, bytes);
    const again = await runPipelineCli([
      "--preset",
      "smoke",
      "--out",
      join(root, "again"),
      "--cache-dir",
      cache,
      "--stages",
      "decode",
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      /^fetch: cache entry [0-9a-f]{12} is damaged \(files\/data_batch_1\.bin differs from its recorded SHA-256\); dropped, rebuilding$/m,
    );
    assert.match(again.stdout, /^decode: cached/m, "the rebuilt fetch output is the verified one");
    const m = await manifestOf(join(root, "again"));
    const recorded = m.stages.fetch!.outputs!.find((o) => o.path === "data_batch_1.bin")!;
    assert.equal(recorded.sha256, OFFICIAL_SHA256["data_batch_1.bin"]);

    // 3. A truncated checkpoint on --resume: one line naming the file, exit 1 (no trace).
    const trainKey = (await manifestOf(r)).stages.train!.key!;
    await Deno.remove(join(cache, "train", trainKey), { recursive: true }); // so the resume reaches the checkpoint
    const weights = join(r, "train", "checkpoints", "last", "weights.bin");
    const w = await Deno.readFile(weights);
    await Deno.remove(weights);
    await Deno.writeFile(weights, w.subarray(0, w.length - 8));
    const broken = await runPipelineCli(["--resume", "--out", r, "--cache-dir", cache]);
    assert.equal(broken.code, 1, broken.stdout + broken.stderr);
    const brokenLines = stderrLines(broken.stderr);
    assert.equal(brokenLines.length, 1, broken.stderr);
    assert.match(
      brokenLines[0],
      /^error: \[train\] Cannot load .*checkpoints\/last\/weights\.bin: it holds \d+ bytes; model\.json describes \d+/,
    );
    assert.equal((await manifestOf(r)).status, "failed");
    await Deno.remove(root, { recursive: true });
  },
});
