import assert from "node:assert/strict";

/**
 * The same seed must give the same bits. Two processes train ResNet50 for two steps on
 * the same generated batches (the default kernel policy), and a third trains one step, saves a checkpoint,
 * resumes from it in a fresh model and optimizer, and trains the second: losses, every weight (moving
 * statistics too) and the optimizer's slots must be bit-identical across all three, and no float-atomic
 * program may run (tfjs's split-K matmul picks one for the head's 16×2048 · 2048×10 product).
 */
interface ChildReport {
  mode: string;
  kernels: string;
  losses: number[];
  weights: string;
  slots: string;
  atomicPrograms: number;
  counters: { replaced: number; atomic: Record<string, number> };
}

const CHILD = new URL("./fixtures/determinism_child.ts", import.meta.url).pathname;
// batch 16, as in the issue: tfjs-webgpu runs the head's 16×2048 · 2048×10 as split-K (at batch ≤ 12 the
// output has ≤ 128 elements and it picks a one-workgroup-per-output reduce program instead)
const BATCH = "16";

async function child(...args: string[]): Promise<ChildReport> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-webgpu", CHILD, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(
    out.code,
    0,
    `determinism child ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`,
  );
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as ChildReport;
}

Deno.test("two ResNet50 processes with the same seed, and a resume, give bit-identical losses and weights", async () => {
  const dir = await Deno.makeTempDir({ prefix: "determinism-" });
  try {
    const a = await child("straight", BATCH, "auto");
    const b = await child("straight", BATCH, "auto");
    const r = await child("resume", BATCH, "auto", `${dir}/ckpt`);
    for (const run of [a, b, r]) {
      assert.equal(
        run.atomicPrograms,
        0,
        `float-atomic programs ran: ${JSON.stringify(run.counters.atomic)}`,
      );
      assert.ok(run.counters.replaced > 0, "the head matmul should have met the split-K replacement");
    }
    assert.deepEqual(b.losses, a.losses, "second process: different losses");
    assert.equal(b.weights, a.weights, "second process: different weights");
    assert.equal(b.slots, a.slots, "second process: different optimizer slots");
    assert.deepEqual(r.losses, a.losses, "resumed run: different losses");
    assert.equal(r.weights, a.weights, "resumed run: different weights");
    assert.equal(r.slots, a.slots, "resumed run: different optimizer slots");
    assert.ok(a.losses[1] !== a.losses[0], `two steps should differ in loss: ${a.losses}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
