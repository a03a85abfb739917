import assert from "node:assert/strict";
import { join } from "node:path";
import { createApp } from "../app.ts";
import { makeFixtureRun } from "./fixtures/make_run.ts";
import { currentProcess } from "../lib/core/process.ts";
import { listRuns, readRun } from "../lib/dashboard/run_reader.ts";

async function fixture(options: Parameters<typeof makeFixtureRun>[1] = {}) {
  const runsDir = await Deno.makeTempDir({ prefix: "dashboard-guard-" });
  const run = await makeFixtureRun(join(runsDir, "r"), { visualize: false, ...options });
  return { runsDir, run };
}

Deno.test("the Host header must be a loopback name unless the dashboard was told otherwise (DNS rebinding)", async () => {
  const { runsDir } = await fixture();
  const app = createApp({ runsDir });
  const get = (host: string, a = app) => a.request("/api/runs", { headers: { host } });
  for (const host of ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST", "dash.localhost:1"]) {
    assert.equal((await get(host)).status, 200, host);
  }
  for (const host of ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "10.0.0.5:8000"]) {
    const res = await get(host);
    assert.equal(res.status, 403, host);
    assert.match(await res.text(), /^forbidden: Host .* is not served here/);
  }
  assert.equal((await get("box.lan:8000", createApp({ runsDir, allowedHosts: ["box.lan"] }))).status, 200);
  assert.equal((await get("evil.example", createApp({ runsDir, allowedHosts: "any" }))).status, 200);
  await Deno.remove(runsDir, { recursive: true });
});

Deno.test("a port in use is one line and exit 1, not a trace", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", new URL("../main.ts", import.meta.url).pathname, "--port", String(port)],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr).trim().split("\n").filter((l) =>
      !l.startsWith("warning:")
    );
    assert.equal(out.code, 1);
    assert.deepEqual(stderr, [
      `error: [dashboard] Cannot listen on 127.0.0.1:${port}: the address is in use (another dashboard? pick another --port, or --port 0 for a free one)`,
    ]);
  } finally {
    listener.close();
  }
});

Deno.test("a run marked running whose process is gone shows as stopped (process gone)", async () => {
  const { runsDir, run } = await fixture({ status: "running" });
  const child = new Deno.Command("true").spawn();
  await child.status;
  const manifest = JSON.parse(await Deno.readTextFile(join(run.dir, "run.json")));
  manifest.process = { pid: child.pid, host: currentProcess().host, startTicks: 1 };
  manifest.heartbeatAt = "2026-01-01T00:00:00.000Z";
  await Deno.writeTextFile(join(run.dir, "run.json"), JSON.stringify(manifest));
  const view = await readRun(runsDir, run.id);
  assert.equal(view?.status, "stopped");
  assert.ok(
    view?.notes.some((n) => n.includes(`its process (pid ${child.pid}) is gone`)),
    view?.notes.join("\n"),
  );
  assert.equal((await listRuns(runsDir))[0].status, "stopped");
  const app = createApp({ runsDir });
  const page = await (await app.request(`/runs/${run.id}`)).text();
  assert.match(page, /stopped \(process gone\)/);
  assert.doesNotMatch(page, /class="live-dot"/);
  assert.equal((await (await app.request(`/api/runs/${run.id}/live`)).json()).status, "stopped");

  // The same run with this (live) process recorded stays running.
  manifest.process = currentProcess();
  await Deno.writeTextFile(join(run.dir, "run.json"), JSON.stringify(manifest));
  assert.equal((await readRun(runsDir, run.id))?.status, "running");
  await Deno.remove(runsDir, { recursive: true });
});

Deno.test("a huge metrics.jsonl gives bounded pages and polls; impossible epochs never reach curves.csv", async () => {
  const { runsDir, run } = await fixture({ status: "running" });
  const path = join(run.dir, "train", "metrics.jsonl");
  const start = (await Deno.readTextFile(path)).split("\n")[0];
  const lines = [start];
  const steps = 200_000;
  for (let i = 1; i <= steps; i++) {
    lines.push(`{"type":"step","epoch":1,"step":${i},"globalStep":${i},"loss":${2 - i / steps},"lr":0.001}`);
  }
  lines.push('{"type":"epoch","epoch":1e308,"meanLoss":1,"testAccuracy":0.5}');
  lines.push('{"type":"epoch","epoch":-1,"meanLoss":1,"testAccuracy":0.5}');
  lines.push('{"type":"step","epoch":1e308,"step":1,"loss":1}');
  lines.push('{"type":"epoch","epoch":1,"meanLoss":1.5,"testAccuracy":0.25}');
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  await Deno.remove(join(run.dir, "train", "train.json")).catch(() => {});
  const app = createApp({ runsDir });
  const page = await (await app.request(`/runs/${run.id}`)).text();
  assert.ok(page.length < 1_000_000, `run page of ${page.length} bytes`);
  const live = await (await app.request(`/api/runs/${run.id}/live`)).text();
  assert.ok(live.length < 300_000, `live poll of ${live.length} bytes`);
  const snapshot = JSON.parse(live);
  assert.ok(snapshot.curve.steps.length <= 4001, `${snapshot.curve.steps.length} step points`);
  assert.equal(snapshot.curve.steps.at(-1).step, steps, "the last step is kept");
  assert.equal(snapshot.progress.step, steps);
  const csv = await (await app.request(`/api/runs/${run.id}/download/curves.csv`)).text();
  assert.deepEqual(csv.trim().split("\r\n").map((l) => l.split(",")[0]), ["epoch", "1"]);
  const view = await readRun(runsDir, run.id);
  assert.equal(view?.metrics?.badLines, 3);
  assert.equal(view?.metrics?.stepLines, steps);
  await Deno.remove(runsDir, { recursive: true });
});
