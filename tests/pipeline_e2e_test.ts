import assert from "node:assert/strict";
import { join } from "node:path";
import type { RunManifest } from "../lib/contract/mod.ts";
import { makeBatchFiles, makeCifarArchive } from "./fixtures/data_fixtures.ts";
import { runPipelineCli } from "./fixtures/pipeline_cli.ts";
import { dataTest, SHARED_ARCHIVE, SHARED_SUMS } from "./fixtures/shared_data.ts";

async function readManifest(runDir: string): Promise<RunManifest> {
  return JSON.parse(await Deno.readTextFile(join(runDir, "run.json")));
}

/** The official member sums, read from ../shared/data/SHA256SUMS (independent of the code's embedded copy). */
async function officialSums(): Promise<Map<string, string>> {
  const text = await Deno.readTextFile(SHARED_SUMS);
  const sums = new Map<string, string>();
  for (const line of text.trim().split("\n")) {
    const [sum, path] = line.split(/\s+/);
    if (path.endsWith(".bin")) sums.set(path.split("/").pop()!, sum);
  }
  return sums;
}

dataTest({
  name: "the smoke preset runs every stage end to end, a second run is served from the cache",
  needs: [SHARED_ARCHIVE, SHARED_SUMS],
  sanitizeResources: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "e2e-" });
    const cache = join(root, "cache");
    const first = join(root, "first");
    const r1 = await runPipelineCli(["--preset", "smoke", "--out", first, "--cache-dir", cache]);
    assert.equal(r1.code, 0, r1.stdout + r1.stderr);
    assert.match(r1.stdout, /Epoch: \[ {2}1\/ {2}2\], Steps: \[ {2}1\/ {2}4\], Train Loss: \[\d\.\d{3}\]/);

    const m = await readManifest(first);
    assert.equal(m.status, "done");
    assert.equal(m.preset, "smoke");
    assert.equal(m.config.arch, "tiny");
    assert.match(m.env.denoLockSha256 ?? "", /^[0-9a-f]{64}$/);
    for (const stage of ["fetch", "decode", "augment", "train", "evaluate", "visualize"] as const) {
      assert.equal(m.stages[stage]?.status, "done", stage);
      assert.match(m.stages[stage]?.key ?? "", /^[0-9a-f]{64}$/);
    }
    // run.json lists the six official SHA-256 sums among fetch's outputs.
    const outputs = new Map((m.stages.fetch?.outputs ?? []).map((o) => [o.path, o.sha256]));
    for (const [name, sum] of await officialSums()) assert.equal(outputs.get(name), sum, name);

    // Per-epoch loss and accuracy, and the best checkpoint, in run.json and on disk.
    const train = m.stages.train?.summary as {
      epochs: { epoch: number; meanLoss: number; testAccuracy: number; lr: number }[];
      bestCheckpoint: string;
    };
    assert.deepEqual(train.epochs.map((e) => e.epoch), [1, 2]);
    for (const e of train.epochs) {
      assert.ok(Number.isFinite(e.meanLoss) && e.meanLoss > 0);
      assert.ok(e.testAccuracy >= 0 && e.testAccuracy <= 1);
    }
    await Deno.stat(join(first, train.bestCheckpoint, "model.json"));
    const evaluation = JSON.parse(await Deno.readTextFile(join(first, "evaluate", "evaluation.json")));
    assert.equal(evaluation.count, 32);
    assert.equal((m.stages.evaluate?.summary as { accuracy: number }).accuracy, evaluation.accuracy);
    await Deno.stat(join(first, "visualize", "predictions.svg"));

    // The end-of-run summary: printed as a table and stored in run.json.
    assert.match(r1.stdout, /^summary:\n {2}fetch +done +\d/m);
    assert.match(r1.stdout, /^ {2}visualize +done +\S+$/m);
    assert.match(r1.stdout, /^ {2}best test accuracy \d+\.\d % at epoch [12]$/m);
    assert.match(r1.stdout, /^ {2}figures in \S+\/visualize\/: .*curves\.svg/m);
    assert.match(
      r1.stdout,
      /^ {2}dashboard: deno task dashboard --runs \S+ {3}then open http:\/\/127\.0\.0\.1:8000\/runs\/first$/m,
    );
    const summary = m.summary as { stages: { stage: string }[]; bestEpoch: number; figures: string[] };
    assert.equal(summary.stages.length, 6);
    assert.equal(
      summary.bestEpoch,
      train.epochs.reduce((a, e) => (e.testAccuracy > a.testAccuracy ? e : a)).epoch,
    );
    assert.ok(summary.figures.some((f) => f.endsWith("visualize/confusion.svg")));
    assert.doesNotMatch(r1.stdout + r1.stderr, /\b1 epochs\b|remaining 0 steps/);

    // Same settings, another run folder: every stage is served from the cache.
    const second = join(root, "second");
    const r2 = await runPipelineCli(["--preset", "smoke", "--out", second, "--cache-dir", cache]);
    assert.equal(r2.code, 0, r2.stderr);
    const m2 = await readManifest(second);
    for (const stage of ["fetch", "decode", "augment", "train", "evaluate", "visualize"] as const) {
      assert.equal(m2.stages[stage]?.status, "cached", stage);
      assert.equal(m2.stages[stage]?.key, m.stages[stage]?.key, stage);
    }
    assert.match(r2.stdout, /^train: cached \(key [0-9a-f]{12}\)$/m);

    // One param of the last stage changes: only that stage runs, and it says why.
    const r3 = await runPipelineCli([
      "--preset",
      "smoke",
      "--out",
      second,
      "--cache-dir",
      cache,
      "--grid",
      "4",
    ]);
    assert.equal(r3.code, 0, r3.stderr);
    const m3 = await readManifest(second);
    assert.equal(m3.stages.train?.status, "cached");
    assert.equal(m3.stages.visualize?.status, "done");
    assert.equal(m3.stages.visualize?.reason, "param grid changed: 6 → 4");
    assert.match(r3.stdout, /visualize: running \(param grid changed: 6 → 4\)/);

    // The finished first run, extended: --resume --epochs 3 trains one more epoch from checkpoints/last
    // under a new train key; the 2-epoch cache entry stays as it was.
    const oldEntry = join(cache, "train", m.stages.train!.key!, "files", "metrics.jsonl");
    const oldMetrics = await Deno.readTextFile(oldEntry);
    const r4 = await runPipelineCli(["--resume", "--out", first, "--cache-dir", cache, "--epochs", "3"]);
    assert.equal(r4.code, 0, r4.stdout + r4.stderr);
    assert.match(r4.stdout, /train: extending the run from 2 to 3 epochs \(a new cache key\)/);
    assert.match(r4.stdout, /epoch 3 trains at lrMin/);
    const m4 = await readManifest(first);
    assert.equal(m4.stages.train?.status, "done");
    assert.notEqual(m4.stages.train?.key, m.stages.train?.key, "a new key, not the old one");
    const train4 = m4.stages.train?.summary as {
      epochs: { epoch: number; lr: number }[];
      resumedFrom: unknown;
    };
    assert.deepEqual(train4.epochs.map((e) => e.epoch), [1, 2, 3]);
    assert.deepEqual(train4.resumedFrom, { epoch: 3, step: 0 });
    assert.equal(train4.epochs[2].lr, m.config.lrMin, "past decayEpochs the cosine stays at its floor");
    assert.deepEqual(
      train4.epochs.slice(0, 2).map((e) => e.lr),
      train.epochs.map((e) => e.lr),
    );
    assert.equal(await Deno.readTextFile(oldEntry), oldMetrics, "the old cache entry is untouched");
    const shorter = await runPipelineCli(["--resume", "--out", first, "--cache-dir", cache, "--epochs", "1"]);
    assert.equal(shorter.code, 2, shorter.stderr);
    assert.match(
      shorter.stderr,
      /--resume --epochs 1: this run was made for 3 epochs; a resume can only add epochs/,
    );
    await Deno.remove(root, { recursive: true });
  },
});

Deno.test("a corrupt archive ends with exit 1, one line naming the stage and file, and nothing cached", async () => {
  const root = await Deno.makeTempDir({ prefix: "e2e-bad-" });
  const archive = join(root, "cifar.tar.gz");
  const good = await makeCifarArchive(makeBatchFiles());
  await Deno.writeFile(archive, good.subarray(0, Math.floor(good.length / 2)));
  const cache = join(root, "cache");
  const r = await runPipelineCli([
    "--preset",
    "smoke",
    "--stages",
    "fetch",
    "--data-url",
    archive,
    "--out",
    join(root, "run"),
    "--cache-dir",
    cache,
  ]);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split("\n").filter((l) => !l.includes("XDG_RUNTIME_DIR"));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^error: \[fetch\] .*cifar\.tar\.gz/);
  const m = await readManifest(join(root, "run"));
  assert.equal(m.status, "failed");
  assert.equal(m.stages.fetch?.status, "failed");
  const cached: string[] = [];
  try {
    for await (const e of Deno.readDir(join(cache, "fetch"))) cached.push(e.name);
  } catch (err) {
    assert.ok(err instanceof Deno.errors.NotFound);
  }
  assert.deepEqual(cached, []);
  await Deno.remove(root, { recursive: true });
});

Deno.test("CIFAR10_URL overrides the default data URL", async () => {
  const root = await Deno.makeTempDir({ prefix: "e2e-env-" });
  const missing = join(root, "no-such-archive.tar.gz");
  const r = await runPipelineCli(
    [
      "--preset",
      "smoke",
      "--stages",
      "fetch",
      "--out",
      join(root, "run"),
      "--cache-dir",
      join(root, "cache"),
    ],
    { env: { CIFAR10_URL: missing }, noDataUrl: true },
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no-such-archive\.tar\.gz/);
  const m = await readManifest(join(root, "run"));
  assert.equal(m.config.dataUrl, missing);
  await Deno.remove(root, { recursive: true });
});
