/**
 * What the dashboard bounds (docs/dashboard-limits.md): a huge line in metrics.jsonl or a huge run.json
 * costs no more than its limit, and never holds up the other requests.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createApp } from "../app.ts";
import { makeFixtureRun } from "./fixtures/make_run.ts";
import { listRuns, READ_LIMITS, readRun } from "../lib/dashboard/run_reader.ts";
import { boundedLines, readTextBounded } from "../lib/dashboard/bounded_read.ts";

const MB = 1_000_000;

/** Append `megabytes` MB of one line (`{"type":"step"xxxx…`) to `path`, with a newline at its end or not. */
async function appendLongLine(path: string, megabytes: number, options: { newline: boolean }) {
  const file = await Deno.open(path, { append: true });
  try {
    const head = new TextEncoder().encode('{"type":"step","pad":"');
    await file.write(head);
    const block = new Uint8Array(MB).fill(0x78);
    for (let i = 0; i < megabytes; i++) await file.write(block);
    if (options.newline) await file.write(new TextEncoder().encode('"}\n'));
  } finally {
    file.close();
  }
}

/**
 * Run `slow` while another request (`other`) is sent every 50 ms; the worst time one of them took, and how
 * long `slow` took. Both share this process's event loop, as they share the dashboard's.
 */
async function worstDelayDuring(
  slow: () => Response | Promise<Response>,
  other: () => Response | Promise<Response>,
) {
  let finished = false;
  const t0 = performance.now();
  const slowDone = Promise.resolve(slow()).then(async (res) => {
    const text = await res.text();
    finished = true;
    return { status: res.status, text, ms: performance.now() - t0 };
  });
  let worst = 0, answered = 0;
  while (!finished) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const s = performance.now();
    const res = await other();
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    worst = Math.max(worst, performance.now() - s);
    answered++;
  }
  return { ...(await slowDone), worst, answered };
}

Deno.test("boundedLines: lines in order, a line over the limit is counted and skipped, each byte read once", async () => {
  const text = 'a\n{"x":1}\n' + "y".repeat(100) + "\nb\n" + "z".repeat(50);
  const pieces = [];
  // in chunks of 7 bytes, so lines straddle chunks
  const bytes = new TextEncoder().encode(text);
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += 7) c.enqueue(bytes.slice(i, i + 7));
      c.close();
    },
  });
  for await (const p of boundedLines(stream, { maxLineBytes: 20 })) pieces.push(p);
  assert.deepEqual(pieces, [
    { kind: "line", text: "a", bytes: 2 },
    { kind: "line", text: '{"x":1}', bytes: 8 },
    { kind: "long", bytes: 101 },
    { kind: "line", text: "b", bytes: 2 },
    { kind: "partial-long", bytes: 50 },
  ]);
  const short = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode("ok\nhalf"));
      c.close();
    },
  });
  assert.deepEqual(await Array.fromAsync(boundedLines(short, { maxLineBytes: 20 })), [
    { kind: "line", text: "ok", bytes: 3 },
    { kind: "partial", text: "half" },
  ]);
});

Deno.test("readTextBounded: reads a file within the limit, refuses a larger one unread", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bounded-read-" });
  try {
    await Deno.writeTextFile(join(dir, "a.json"), '{"a":1}');
    assert.deepEqual(await readTextBounded(join(dir, "a.json"), { maxBytes: 7 }), {
      state: "ok",
      text: '{"a":1}',
    });
    assert.deepEqual(await readTextBounded(join(dir, "a.json"), { maxBytes: 6 }), {
      state: "too-large",
      bytes: 7,
    });
    assert.deepEqual(await readTextBounded(join(dir, "none"), { maxBytes: 6 }), { state: "missing" });
    assert.deepEqual(await readTextBounded(dir, { maxBytes: 6 }), { state: "missing" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a 60 MB line in metrics.jsonl never delays another request by more than a second", async () => {
  const runsDir = await Deno.makeTempDir({ prefix: "dashboard-limits-" });
  try {
    const run = await makeFixtureRun(join(runsDir, "long-line"), { visualize: false, status: "running" });
    await makeFixtureRun(join(runsDir, "other"), { visualize: false });
    const metrics = join(run.dir, "train", "metrics.jsonl");
    // one long line with its newline, a good line after it, and a long line still "being written"
    await appendLongLine(metrics, 30, { newline: true });
    await Deno.writeTextFile(
      metrics,
      '{"type":"epoch","epoch":7,"meanLoss":1.25,"testAccuracy":0.5,"lr":0.01,"seconds":3}\n',
      { append: true },
    );
    await appendLongLine(metrics, 30, { newline: false });
    const app = createApp({ runsDir });

    const page = await worstDelayDuring(
      () => app.request("/runs/long-line"),
      () => app.request("/api/runs/other"),
    );
    console.log(
      `60 MB of long lines: run page in ${page.ms.toFixed(0)} ms; ${page.answered} other requests, ` +
        `the slowest ${page.worst.toFixed(0)} ms`,
    );
    assert.equal(page.status, 200);
    assert.ok(page.worst < 1000, `another request waited ${page.worst.toFixed(0)} ms`);
    assert.ok(page.ms < 10_000, `the run page took ${page.ms.toFixed(0)} ms`);
    assert.match(page.text, /2 unreadable lines skipped \(2 over 64 KB, not read\)/);

    const live = await worstDelayDuring(
      () => app.request("/api/runs/long-line/live"),
      () => app.request("/api/runs/other"),
    );
    assert.equal(live.status, 200);
    assert.ok(live.worst < 1000, `another request waited ${live.worst.toFixed(0)} ms during a live poll`);

    // the line after the long one is read
    const view = await readRun(runsDir, "long-line");
    assert.ok(view?.metrics?.epochs.some((e) => e.epoch === 7 && e.meanLoss === 1.25));
    assert.equal(view?.metrics?.partialLine, false, "a long unfinished line is counted, not kept");
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});

Deno.test("a 50 MB run.json is listed as invalid unread and does not slow the run list", async () => {
  const runsDir = await Deno.makeTempDir({ prefix: "dashboard-limits-" });
  try {
    for (let i = 0; i < 3; i++) await makeFixtureRun(join(runsDir, `r${i}`), { visualize: false });
    const app = createApp({ runsDir });
    const timeList = async (times: number) => {
      const t0 = performance.now();
      for (let i = 0; i < times; i++) {
        const res = await app.request("/api/runs");
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }
      return (performance.now() - t0) / times;
    };
    await timeList(2); // warm
    const before = await timeList(5);

    // a valid JSON document of 50 MB: read whole, it would parse
    const huge = join(runsDir, "huge");
    await Deno.mkdir(huge);
    const file = await Deno.open(join(huge, "run.json"), { write: true, create: true });
    await file.write(new TextEncoder().encode('{"version":1,"status":"done","stages":{},"pad":"'));
    const block = new Uint8Array(MB).fill(0x61);
    for (let i = 0; i < 50; i++) await file.write(block);
    await file.write(new TextEncoder().encode('"}'));
    file.close();

    const rss0 = Deno.memoryUsage().rss;
    const after = await timeList(5);
    const grew = Deno.memoryUsage().rss - rss0;
    console.log(
      `run list: ${before.toFixed(1)} ms a request without, ${after.toFixed(1)} ms with a 50 MB run.json; ` +
        `rss +${(grew / MB).toFixed(1)} MB`,
    );
    assert.ok(after < before + 100, `the run list went from ${before.toFixed(1)} to ${after.toFixed(1)} ms`);
    assert.ok(grew < 40 * MB, `rss grew by ${(grew / MB).toFixed(0)} MB`);
    const row = (await listRuns(runsDir)).find((r) => r.id === "huge");
    assert.equal(row?.problem, "run.json is 50 MB, over the 4.0 MB the dashboard reads");
    assert.equal(row?.status, "unknown");
    const html = await (await app.request("/runs/huge")).text();
    assert.match(html, /run\.json is 50 MB, over the 4\.0 MB the dashboard reads/);
    assert.equal(READ_LIMITS.jsonBytes, 4_000_000);
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});
