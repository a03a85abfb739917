import assert from "node:assert/strict";
import { join } from "node:path";
import { MetricsLog, readMetricsLog } from "../lib/train/metrics_log.ts";

Deno.test("MetricsLog appends one JSON line per event and counts its bytes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "train", "metrics.jsonl");
    const log = await MetricsLog.open(path, { truncate: true });
    await log.append({ type: "start", epochs: 2 });
    const afterStart = log.bytes;
    await log.append({ type: "step", epoch: 1, step: 1, loss: 2.302585092994046 });
    log.close();
    const text = await Deno.readTextFile(path);
    assert.equal(
      text,
      '{"type":"start","epochs":2}\n{"type":"step","epoch":1,"step":1,"loss":2.302585092994046}\n',
    );
    assert.equal(afterStart, '{"type":"start","epochs":2}\n'.length);
    assert.equal((await readMetricsLog(path))[1].loss, 2.302585092994046);

    // a resumed run keeps the log up to its checkpoint and appends after it
    const resumed = await MetricsLog.open(path, { truncateTo: afterStart });
    assert.equal(resumed.bytes, afterStart);
    await resumed.append({ type: "step", epoch: 1, step: 1, loss: 1 });
    resumed.close();
    assert.deepEqual((await readMetricsLog(path)).map((e) => e.loss), [undefined, 1]);

    // reopening without options appends; truncate starts over
    const again = await MetricsLog.open(path);
    assert.equal(again.bytes, (await Deno.stat(path)).size);
    again.close();
    const fresh = await MetricsLog.open(path, { truncate: true });
    assert.equal(fresh.bytes, 0);
    fresh.close();
    assert.equal(await Deno.readTextFile(path), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readMetricsLog skips a half-written last line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "m.jsonl");
    await Deno.writeTextFile(path, '{"type":"epoch","epoch":1}\n{"type":"st');
    assert.deepEqual(await readMetricsLog(path), [{ type: "epoch", epoch: 1 }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
