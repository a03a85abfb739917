/**
 * Pictures are sized from their header before anything is decoded (PNG IHDR, JPEG SOF), and a PNG whose
 * pixel data inflates past what its size needs is refused: the decompression-bomb guards.
 */
import assert from "node:assert/strict";
import * as jpeg from "jpeg-js";
import {
  decodeImage,
  encodePng,
  ImageInputError,
  pngInflatedBytes,
  readImageHeader,
} from "../lib/figures/mod.ts";
import { pngBomb } from "./fixtures/png_bomb.ts";

function jpegOf(width: number, height: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4).fill(100);
  return new Uint8Array(jpeg.encode({ width, height, data: rgba }, 80).data);
}

/** The offset of the first SOF0 marker segment of `bytes`. */
function sof0(bytes: Uint8Array): number {
  for (let i = 2; i + 1 < bytes.length; i++) if (bytes[i] === 0xff && bytes[i + 1] === 0xc0) return i;
  throw new Error("no SOF0");
}

const refuses = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof ImageInputError, `an ImageInputError, not ${err}`);
  assert.ok(!err.message.includes("\n"), err.message);
  assert.match(err.message, pattern);
  return true;
};

Deno.test("readImageHeader: a PNG's IHDR and a JPEG's SOF give the size; junk is one line naming the file", () => {
  const png = encodePng({ width: 7, height: 5, channels: 3, data: new Uint8Array(7 * 5 * 3) });
  assert.deepEqual(readImageHeader(png, "a.png"), {
    type: "png",
    width: 7,
    height: 5,
    png: { depth: 8, colorType: 2, interlace: 0 },
  });
  assert.deepEqual(readImageHeader(jpegOf(100, 60), "b.jpg"), { type: "jpeg", width: 100, height: 60 });
  assert.throws(
    () => readImageHeader(new TextEncoder().encode("hello"), "c.txt"),
    refuses(/^Cannot read c\.txt: not a PNG or JPEG file$/),
  );
  assert.throws(
    () => readImageHeader(png.subarray(0, 20), "cut.png"),
    refuses(/^Cannot read cut\.png as PNG: no IHDR header/),
  );
  assert.throws(
    () => readImageHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2]), "cut.jpg"),
    refuses(/^Cannot read cut\.jpg as JPEG: no frame header \(SOF\) before the image data$/),
  );
});

Deno.test("pngInflatedBytes: a filter byte and the packed samples per row; Adam7 counts its seven passes", () => {
  const header = (width: number, height: number, depth: number, colorType: number, interlace: number) => ({
    type: "png" as const,
    width,
    height,
    png: { depth, colorType, interlace },
  });
  assert.equal(pngInflatedBytes(header(40, 30, 8, 2, 0)), 30 * (1 + 120));
  assert.equal(pngInflatedBytes(header(10, 3, 1, 0, 0)), 3 * (1 + 2)); // 10 bits → 2 bytes a row
  assert.equal(pngInflatedBytes(header(16, 2, 16, 6, 0)), 2 * (1 + 16 * 8));
  // 8 × 8 RGBA, Adam7: passes of 1×1, 1×1, 2×1, 2×2, 4×2, 4×4, 8×4 pixels
  const rows = [[1, 1], [1, 1], [2, 1], [2, 2], [4, 2], [4, 4], [8, 4]];
  assert.equal(pngInflatedBytes(header(8, 8, 8, 6, 1)), rows.reduce((a, [w, h]) => a + h * (1 + w * 4), 0));
});

Deno.test("a 16000 × 16000 PNG is refused by its header in milliseconds, without decoding it", async () => {
  const png = await pngBomb({ width: 16000, height: 16000 });
  assert.ok(png.length < 1_000_000, `${png.length} bytes`);
  const rss0 = Deno.memoryUsage().rss;
  const t0 = performance.now();
  assert.throws(
    () => decodeImage(png, "bomb.png"),
    refuses(/^Cannot read bomb\.png: 16000×16000 is over 50 megapixels$/),
  );
  const ms = performance.now() - t0;
  const grew = Deno.memoryUsage().rss - rss0;
  console.log(`16000×16000 PNG (${png.length} bytes): refused in ${ms.toFixed(1)} ms, rss +${grew >> 20} MB`);
  assert.ok(ms < 100, `${ms} ms`);
  assert.ok(grew < 50e6, `rss grew ${grew} bytes`);
});

Deno.test("a JPEG whose SOF says 20000 × 20000 is refused before decoding; a smaller cap is honoured", () => {
  const bytes = jpegOf(64, 48);
  const at = sof0(bytes);
  const big = bytes.slice();
  new DataView(big.buffer).setUint16(at + 5, 20000);
  new DataView(big.buffer).setUint16(at + 7, 20000);
  assert.throws(
    () => decodeImage(big, "big.jpg"),
    refuses(/^Cannot read big\.jpg: 20000×20000 is over 50 megapixels$/),
  );
  assert.throws(
    () => decodeImage(bytes, "small.jpg", { maxMegapixels: 0.001 }),
    refuses(/^Cannot read small\.jpg: 64×48 is over 0\.001 megapixels$/),
  );
  assert.equal(decodeImage(bytes, "ok.jpg").width, 64);
});

Deno.test("a small PNG whose pixel data inflates to 200 MB is refused after what its size needs", async () => {
  const fine = await pngBomb({ width: 100, height: 80 });
  assert.equal(decodeImage(fine, "fine.png").data.length, 100 * 80 * 3);
  const png = await pngBomb({ width: 100, height: 80, inflatedBytes: 200_000_000 });
  const t0 = performance.now();
  assert.throws(
    () => decodeImage(png, "zip.png"),
    refuses(/^Cannot read zip\.png as PNG: its pixel data inflates past the 24080 bytes 100×80 needs/),
  );
  const ms = performance.now() - t0;
  console.log(`100×80 PNG inflating to 200 MB (${png.length} bytes): refused in ${ms.toFixed(1)} ms`);
  assert.ok(ms < 200, `${ms} ms`);
});

Deno.test("a 16-bit PNG is refused by its header", () => {
  const png = encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(12) });
  const deep = png.slice();
  deep[24] = 16;
  assert.throws(
    () => decodeImage(deep, "deep.png"),
    refuses(/^Cannot read deep\.png as PNG: bit depth 16 is not supported/),
  );
});
