/**
 * `deno task cache` and `deno task cache prune` over a cache laid out as the runner lays it
 * (`<cache>/<stage>/<key>/{manifest.json,files/}`), with the runner's other files beside the entries (a
 * lock, `latest.json`, a temporary folder) that must be left alone, and run folders that use some entries.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listCache, parseAge, pruneCache, runsUsingCache } from "../lib/run/mod.ts";
import { makeFixtureRun } from "./fixtures/make_run.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DAY = 86_400_000;

async function entry(cache: string, stage: string, key: string, options: { bytes: number; daysOld: number }) {
  const dir = join(cache, stage, key);
  await Deno.mkdir(join(dir, "files", "sub"), { recursive: true });
  await Deno.writeFile(join(dir, "files", "sub", "data.bin"), new Uint8Array(options.bytes));
  await Deno.writeTextFile(
    join(dir, "manifest.json"),
    JSON.stringify({ stage, key, createdAt: new Date(Date.now() - options.daysOld * DAY).toISOString() }),
  );
}

async function cacheCli(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", join(ROOT, "pipeline/cache.ts"), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("cache list and prune: sizes, ages, users; only unused (and old enough) entries go; other files stay", async () => {
  const root = await Deno.makeTempDir({ prefix: "cache_tool_" });
  try {
    const runs = join(root, "runs");
    const run = await makeFixtureRun(join(runs, "kept run"), { visualize: false });
    const manifest = JSON.parse(await Deno.readTextFile(join(run.dir, "run.json")));
    const usedTrain = manifest.stages.train.key as string;
    const usedDecode = manifest.stages.decode.key as string;
    const cache = join(root, "cache");
    const oldUnused = "a".repeat(64), newUnused = "b".repeat(64);
    await entry(cache, "train", usedTrain, { bytes: 3000, daysOld: 40 });
    await entry(cache, "decode", usedDecode, { bytes: 2000, daysOld: 1 });
    await entry(cache, "train", oldUnused, { bytes: 5000, daysOld: 45 });
    await entry(cache, "evaluate", newUnused, { bytes: 700, daysOld: 2 });
    // the runner's other files (latest.json, a build lock, a temporary folder): never listed, never removed
    await Deno.writeTextFile(join(cache, "train", "latest.json"), "{}");
    await Deno.writeTextFile(join(cache, "train", `${oldUnused}.lock`), "123");
    await Deno.mkdir(join(cache, "train", `${newUnused}.tmp-1-abc`));
    await Deno.mkdir(join(cache, "pretrained"));
    await Deno.writeTextFile(join(cache, "pretrained", "resnet50.ckpt"), "x");

    const entries = await listCache(cache, await runsUsingCache(runs));
    assert.equal(entries.length, 4);
    assert.deepEqual(entries.map((e) => [e.stage, e.bytes > 0, e.usedBy]), [
      ["train", true, []],
      ["train", true, ["kept run"]],
      ["evaluate", true, []],
      ["decode", true, ["kept run"]],
    ]);
    assert.ok(entries[0].bytes >= 5000);

    const list = await cacheCli(["--cache-dir", cache, "--runs", runs]);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split("\n");
    assert.match(lines[1], /^stage +key +size +age +used by$/);
    assert.match(lines[2], /^train +aaaaaaaaaaaa +5\.\d KB +45d +\(no run\)$/);
    assert.ok(lines.some((l) => l.startsWith("decode") && l.endsWith("kept run")), list.stdout);
    assert.match(lines.at(-1)!, /^total 1\d KB in 4 entries; 2 used by no run \([56]\.\d KB\)$/);

    const dry = await cacheCli([
      "prune",
      "--cache-dir",
      cache,
      "--keep-runs",
      runs,
      "--older-than",
      "30d",
      "--dry-run",
    ]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would remove train\/aaaaaaaaaaaa/);
    assert.equal((await listCache(cache)).length, 4, "dry run removes nothing");

    const prune = await cacheCli(["prune", "--cache-dir", cache, "--keep-runs", runs, "--older-than", "30d"]);
    assert.equal(prune.code, 0, prune.stderr);
    assert.match(prune.stdout.trim().split("\n").at(-1)!, /^removed 1 entry \(5\.\d KB\); kept 3 /);
    const after = (await listCache(cache)).map((e) => `${e.stage}/${e.key}`);
    assert.deepEqual(
      after.sort(),
      [`decode/${usedDecode}`, `evaluate/${newUnused}`, `train/${usedTrain}`].sort(),
    );
    for (const kept of [`${oldUnused}.lock`, "latest.json", `${newUnused}.tmp-1-abc`]) {
      await Deno.stat(join(cache, "train", kept));
    }
    await Deno.stat(join(cache, "pretrained", "resnet50.ckpt"));

    // without an age bound every unused entry goes; a run folder itself can be the kept set
    const removed = await pruneCache(await listCache(cache, await runsUsingCache(run.dir)));
    assert.deepEqual(removed.map((e) => e.key), [newUnused]);

    const bad = await cacheCli(["prune", "--cache-dir", cache, "--older-than", "soon"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split("\n").length, 1);
    assert.match(bad.stderr, /--older-than must be/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("parseAge", () => {
  assert.equal(parseAge("30d"), 30 * 86400);
  assert.equal(parseAge("12h"), 43200);
  assert.equal(parseAge("2w"), 1209600);
  assert.equal(parseAge("90m"), 5400);
  assert.equal(parseAge("30"), null);
  assert.equal(parseAge("d"), null);
});
