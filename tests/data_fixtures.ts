/**
 * Fixtures for the data-layer tests: small CIFAR-format batch files, `.tar.gz` archives made with
 * modern-tar's packer and `CompressionStream("gzip")`, and stage contexts in temporary run folders.
 *
 * @example
 * ```ts
 * import { makeArchive, makeRecords } from "./data_fixtures.ts";
 * const gz = await makeArchive([{ name: "dir/test_batch.bin", data: makeRecords(4, 1) }]);
 * ```
 * @module
 */
import { join } from "node:path";
import { createTarPacker, type TarHeader } from "modern-tar";
import { IMAGE_BYTES, META_FILE, RECORD_BYTES, TEST_FILES, TRAIN_FILES } from "../lib/cifar_format.ts";
import { type PipelineConfig, resolveConfig, type StageName } from "../lib/config.ts";
import { sha256Hex } from "../lib/hash.ts";
import { createLogger } from "../lib/log.ts";
import { Rng } from "../lib/random.ts";
import type { StageContext } from "../lib/stage.ts";

/** The real class names file (61 bytes). */
export const META_TEXT = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";

/** The shared CIFAR-10 archive beside the checkout. */
export const SHARED_ARCHIVE = new URL("../../shared/data/cifar-10-binary.tar.gz", import.meta.url).pathname;

/**
 * `count` CIFAR records with labels `(i * 3 + salt) % 10` and pseudo-random pixels (seeded by `salt`).
 */
export function makeRecords(count: number, salt: number): Uint8Array {
  const rng = new Rng(salt, "fixture");
  const bytes = new Uint8Array(count * RECORD_BYTES);
  for (let i = 0; i < count; i++) {
    bytes[i * RECORD_BYTES] = (i * 3 + salt) % 10;
    for (let k = 1; k < RECORD_BYTES; k++) bytes[i * RECORD_BYTES + k] = rng.nextUint32() & 0xff;
  }
  return bytes;
}

/** The six batch files (train files of `perFile` records each, test of `testCount`) and the meta file. */
export function makeBatchFiles(perFile = 3, testCount = 4): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  TRAIN_FILES.forEach((name, i) => files.set(name, makeRecords(perFile, i + 1)));
  files.set(TEST_FILES[0], makeRecords(testCount, 99));
  files.set(META_FILE, new TextEncoder().encode(META_TEXT));
  return files;
}

/** The SHA-256 sums of the `.bin` files among `files`. */
export async function sumsOf(files: Map<string, Uint8Array>): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  for (const [name, data] of files) if (name.endsWith(".bin")) sums[name] = await sha256Hex(data);
  return sums;
}

/** One entry of a test archive. */
export interface FixtureEntry {
  name: string;
  data?: Uint8Array;
  type?: TarHeader["type"];
  /** Target of a symlink or hard link entry. */
  linkname?: string;
}

/** A tar archive of `entries`, made with modern-tar's streaming packer, gzip-compressed unless `gzip: false`. */
export async function makeArchive(
  entries: FixtureEntry[],
  options: { gzip?: boolean } = {},
): Promise<Uint8Array> {
  const { readable, controller } = createTarPacker();
  const stream = options.gzip === false ? readable : readable.pipeThrough(new CompressionStream("gzip"));
  const out = new Response(stream).arrayBuffer();
  for (const entry of entries) {
    const data = entry.data ?? new Uint8Array(0);
    const body = controller.add({
      name: entry.name,
      size: entry.type === undefined || entry.type === "file" ? data.length : 0,
      type: entry.type ?? "file",
      linkname: entry.linkname,
      mtime: new Date(0),
    });
    const writer = body.getWriter();
    if ((entry.type ?? "file") === "file" && data.length > 0) await writer.write(data);
    await writer.close();
  }
  controller.finalize();
  return new Uint8Array(await out);
}

/**
 * An archive shaped like the real one: the folder entry, then every file under `cifar-10-batches-bin/`, with
 * a `readme.html` just before `test_batch.bin` (the real archive's order).
 */
export function makeCifarArchive(files: Map<string, Uint8Array>): Promise<Uint8Array> {
  const entries: FixtureEntry[] = [{ name: "cifar-10-batches-bin/", type: "directory" }];
  const readme = {
    name: "cifar-10-batches-bin/readme.html",
    data: new TextEncoder().encode("<html></html>"),
  };
  for (const [name, data] of files) {
    if (name !== "test_batch.bin") entries.push({ name: `cifar-10-batches-bin/${name}`, data });
  }
  entries.push(readme);
  const test = files.get("test_batch.bin");
  if (test) entries.push({ name: "cifar-10-batches-bin/test_batch.bin", data: test });
  return makeArchive(entries);
}

const tempDirs: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const dir of tempDirs) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* already gone */ }
  }
});

/** A fresh temporary run folder, removed when the test process ends. */
export async function tempRunDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "data-test-" });
  tempDirs.push(dir);
  return dir;
}

/** A stage context in `runDir` with the smoke preset (plus overrides) and a silent logger. */
export async function makeContext(
  stage: StageName,
  runDir: string,
  overrides: Partial<PipelineConfig> = {},
): Promise<StageContext> {
  const dir = join(runDir, stage);
  await Deno.mkdir(dir, { recursive: true });
  return {
    config: resolveConfig("smoke", overrides),
    dir,
    runDir,
    cacheDir: join(runDir, ".cache"),
    input: (s) => join(runDir, s),
    resume: false,
    log: createLogger({ quiet: true }),
  };
}

/** Writes `files` into `dir` (a hand-made fetch folder). */
export async function writeFiles(dir: string, files: Map<string, Uint8Array>): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, data] of files) await Deno.writeFile(join(dir, name), data);
}

/** The HWC image of record `i` of a batch file's bytes (reference conversion, written plainly). */
export function referenceImage(bytes: Uint8Array, i: number): Uint8Array {
  const image = new Uint8Array(IMAGE_BYTES);
  const base = i * RECORD_BYTES + 1;
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      for (let c = 0; c < 3; c++) image[(y * 32 + x) * 3 + c] = bytes[base + c * 1024 + y * 32 + x];
    }
  }
  return image;
}
