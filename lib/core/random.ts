/**
 * A small seeded pseudo-random generator: sfc32 (Chris Doty-Humphrey's "Small Fast Counting" generator from
 * PractRand, 128-bit state, passes PractRand and BigCrush), keyed from `(seed, stream)` through splitmix32.
 * Same seed and stream → the same numbers on every machine and every run.
 *
 * Keying: the words `[lo32(seed), hi32(seed), kind, stream…]` are folded one by one with the splitmix32
 * finalizer into a 32-bit key (`kind` is 0 for a number stream, 1 for a string stream hashed with FNV-1a
 * over its UTF-8 bytes). Four splitmix32 outputs from that key fill the sfc32 state `a, b, c, d`, and the
 * first 15 outputs are discarded.
 *
 * @example
 * ```ts
 * import { Rng } from "./random.ts";
 * const rng = new Rng(1, "augment/epoch/0");
 * rng.int(9);          // 0..8
 * rng.permutation(5);  // e.g. Uint32Array [3, 0, 4, 1, 2]
 * ```
 * @module
 */

const GOLDEN = 0x9e3779b9;

/** One splitmix32 output for state `x` (the state advanced by the golden ratio, then finalized). */
function splitmix32(x: number): number {
  let t = (x + GOLDEN) | 0;
  t ^= t >>> 16;
  t = Math.imul(t, 0x21f0aaad);
  t ^= t >>> 15;
  t = Math.imul(t, 0x735a2d97);
  t ^= t >>> 15;
  return t >>> 0;
}

/** FNV-1a (32-bit) of a string's UTF-8 bytes. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Lists the 32-bit words of a safe integer: low word, then high word (two's complement). */
function words(value: number): [number, number] {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`a seed or stream must be a safe integer, got ${value}`);
  }
  const lo = value >>> 0;
  const hi = Math.floor(value / 2 ** 32) | 0;
  return [lo, hi >>> 0];
}

/**
 * The seeded generator. Not cryptographic.
 *
 * @example
 * ```ts
 * const a = new Rng(42), b = new Rng(42);
 * a.nextUint32() === b.nextUint32(); // true
 * new Rng(42, 1).nextUint32() === new Rng(42, 2).nextUint32(); // false (different streams)
 * ```
 */
export class Rng {
  #a = 0;
  #b = 0;
  #c = 0;
  #d = 0;

  /**
   * @param seed Any safe integer.
   * @param stream Separates independent sequences under one seed: a safe integer or a name such as
   *   "augment/epoch/3".
   */
  constructor(seed: number, stream: number | string = 0) {
    const parts = typeof stream === "string"
      ? [...words(seed), 1, fnv1a(stream)]
      : [...words(seed), 0, ...words(stream)];
    let key = 0;
    for (const word of parts) key = splitmix32(key ^ word);
    let x = key;
    const next = () => {
      const out = splitmix32(x);
      x = (x + GOLDEN) | 0;
      return out;
    };
    this.#a = next() | 0;
    this.#b = next() | 0;
    this.#c = next() | 0;
    this.#d = next() | 0;
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  /**
   * A generator with the given raw sfc32 state (for checking the core against a reference).
   *
   * @example
   * ```ts
   * Rng.fromState([1, 2, 3, 4]).nextUint32(); // 7 (a + b + d)
   * ```
   */
  static fromState(state: readonly [number, number, number, number]): Rng {
    const rng = new Rng(0);
    rng.state = state;
    return rng;
  }

  /** The raw sfc32 state `[a, b, c, d]` (unsigned), to snapshot and restore a generator. */
  get state(): [number, number, number, number] {
    return [this.#a >>> 0, this.#b >>> 0, this.#c >>> 0, this.#d >>> 0];
  }

  set state(value: readonly [number, number, number, number]) {
    this.#a = value[0] | 0;
    this.#b = value[1] | 0;
    this.#c = value[2] | 0;
    this.#d = value[3] | 0;
  }

  /** The next 32-bit unsigned integer (the sfc32 step). */
  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1) with 32 random bits. */
  next(): number {
    return this.nextUint32() / 2 ** 32;
  }

  /**
   * A uniform integer in [0, n), without modulo bias (rejection sampling).
   *
   * @param n An integer from 1 to 2^32.
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) {
      throw new RangeError(`int(n) needs 1 ≤ n ≤ 2^32, got ${n}`);
    }
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /**
   * Shuffles `items` in place (Fisher–Yates, from the last position down: swap `i` with `int(i + 1)`).
   *
   * @returns `items`.
   */
  shuffle<T extends { length: number; [index: number]: unknown }>(items: T): T {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** A random permutation of 0..n-1: the identity shuffled with {@linkcode Rng.shuffle}. */
  permutation(n: number): Uint32Array {
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    return this.shuffle(order);
  }
}
