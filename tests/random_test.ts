import assert from "node:assert/strict";
import { Rng } from "../lib/core/random.ts";

Deno.test("Rng core matches sfc32 as PractRand defines it (reference values from an independent implementation)", () => {
  const a = Rng.fromState([1, 2, 3, 4]);
  assert.deepEqual(Array.from({ length: 6 }, () => a.nextUint32()), [
    7,
    34,
    56623200,
    188882296,
    3431242869,
    399395954,
  ]);
  const b = Rng.fromState([0xdeadbeef, 0x12345678, 0x9abcdef0, 1]);
  assert.deepEqual(
    Array.from({ length: 6 }, () => b.nextUint32()),
    [4041348456, 2195792581, 3074186425, 2226557559, 1337138538, 3642565243],
  );
});

Deno.test("Rng: same seed and stream give the same sequence; other seeds and streams differ", () => {
  const draw = (rng: Rng) => Array.from({ length: 64 }, () => rng.nextUint32());
  assert.deepEqual(draw(new Rng(1)), draw(new Rng(1)));
  assert.deepEqual(draw(new Rng(1, "augment/epoch/0")), draw(new Rng(1, "augment/epoch/0")));
  const sequences = [
    draw(new Rng(1)),
    draw(new Rng(2)),
    draw(new Rng(-1)),
    draw(new Rng(2 ** 40)),
    draw(new Rng(1, 1)),
    draw(new Rng(1, "augment/epoch/0")),
    draw(new Rng(1, "augment/epoch/1")),
  ];
  const keys = new Set(sequences.map((s) => s.join(",")));
  assert.equal(keys.size, sequences.length);
  assert.throws(() => new Rng(0.5), RangeError);
});

Deno.test("Rng state snapshots restore the sequence", () => {
  const rng = new Rng(7);
  rng.nextUint32();
  const saved = rng.state;
  const next = [rng.nextUint32(), rng.nextUint32()];
  assert.deepEqual([Rng.fromState(saved).nextUint32(), Rng.fromState(saved).nextUint32()], [
    next[0],
    next[0],
  ]);
});

Deno.test("Rng.int is uniform over [0, n) and next() over [0, 1)", () => {
  const rng = new Rng(3);
  const n = 9;
  const counts = new Array(n).fill(0);
  const draws = 90_000;
  for (let i = 0; i < draws; i++) {
    const v = rng.int(n);
    assert.ok(Number.isInteger(v) && v >= 0 && v < n);
    counts[v]++;
  }
  const expected = draws / n;
  const chiSquare = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  assert.ok(chiSquare < 26.1, `chi-square ${chiSquare} (8 dof, p = 0.001 bound 26.1)`);
  let sum = 0;
  for (let i = 0; i < 10_000; i++) {
    const f = rng.next();
    assert.ok(f >= 0 && f < 1);
    sum += f;
  }
  assert.ok(Math.abs(sum / 10_000 - 0.5) < 0.02);
  assert.equal(rng.int(1), 0);
  assert.throws(() => rng.int(0), RangeError);
});

Deno.test("Rng.permutation is a permutation; shuffles differ between streams", () => {
  const p = new Rng(5, "a").permutation(1000);
  assert.deepEqual(Array.from(p).sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  const q = new Rng(5, "b").permutation(1000);
  assert.notDeepEqual(Array.from(p), Array.from(q));
  // Every position is equally likely for an element (Fisher–Yates is unbiased): element 0 over 3 slots.
  const slots = [0, 0, 0];
  const rng = new Rng(11);
  for (let i = 0; i < 30_000; i++) slots[rng.permutation(3).indexOf(0)]++;
  for (const s of slots) assert.ok(Math.abs(s - 10_000) < 500, `slots ${slots}`);
  const items = ["a", "b", "c", "d"];
  assert.equal(new Rng(1).shuffle(items), items);
  assert.deepEqual([...items].sort(), ["a", "b", "c", "d"]);
});
