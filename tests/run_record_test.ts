/** RunRecord, the one writer of run.json: saves in order, heartbeats, and the signal path's "interrupted". */
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveConfig } from "../lib/config/config.ts";
import { PipelineError } from "../lib/core/errors.ts";
import { readRunManifest } from "../lib/run/manifest.ts";
import { RunRecord } from "../lib/run/run_record.ts";

async function record() {
  const runDir = join(await Deno.makeTempDir({ prefix: "run-record-" }), "run");
  await Deno.mkdir(runDir);
  const r = await RunRecord.create(runDir, {
    config: resolveConfig("smoke"),
    requested: ["decode"],
    stages: ["fetch", "decode"],
  });
  return { runDir, r };
}

Deno.test("a new record is running with every stage pending; interrupted() writes nothing before the first save", async () => {
  const { runDir, r } = await record();
  assert.equal(r.manifest.status, "running");
  assert.deepEqual(r.manifest.stages, { fetch: { status: "pending" }, decode: { status: "pending" } });
  r.interrupted();
  assert.equal(await readRunManifest(runDir), undefined);
  await r.save();
  r.stage("fetch").status = "running";
  r.interrupted();
  const m = await readRunManifest(runDir);
  assert.equal(m?.status, "interrupted");
  assert.equal(m?.stages.fetch?.status, "running");
  const names = await Array.fromAsync(Deno.readDir(runDir), (e) => e.name);
  assert.deepEqual(names, ["run.json"], "no temporary file left");
});

Deno.test("fail() records the line, fails a running stage, and never throws; finish() says done", async () => {
  const { runDir, r } = await record();
  await r.save();
  r.stage("fetch").status = "running";
  await r.fail(new PipelineError("fetch", "Cannot write x: no space left on the device"));
  let m = await readRunManifest(runDir);
  assert.equal(m?.status, "failed");
  assert.equal(m?.error, "error: [fetch] Cannot write x: no space left on the device");
  assert.equal(m?.stages.fetch?.status, "failed");
  assert.equal(m?.stages.fetch?.error, "Cannot write x: no space left on the device");
  r.interrupted(); // a failed run stays failed
  assert.equal((await readRunManifest(runDir))?.status, "failed");
  await r.finish({ totalSeconds: 1 });
  m = await readRunManifest(runDir);
  assert.equal(m?.status, "done");
  assert.deepEqual(m?.summary, { totalSeconds: 1 });
});

Deno.test("heartbeats keep heartbeatAt fresh until stop()", async () => {
  const { runDir, r } = await record();
  await r.save();
  const first = r.manifest.heartbeatAt;
  r.beat(0.02);
  await new Promise((resolve) => setTimeout(resolve, 120));
  await r.stop();
  const m = await readRunManifest(runDir);
  assert.ok(Date.parse(m?.heartbeatAt ?? "") > Date.parse(first ?? ""), `${m?.heartbeatAt} after ${first}`);
  const last = m?.heartbeatAt;
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal((await readRunManifest(runDir))?.heartbeatAt, last, "no beat after stop()");
});
