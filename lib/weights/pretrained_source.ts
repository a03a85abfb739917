/**
 * Where `--pretrained SOURCE` comes from: a path, a `file://` URL, an `http(s)://` URL (downloaded once into
 * the cache, atomically, its SHA-256 recorded beside it) or the word `mindspore`, the tutorial's ImageNet
 * ResNet50 checkpoint ({@linkcode MINDSPORE_RESNET50_URL}).
 *
 * @example
 * ```ts
 * import { importPretrained } from "./pretrained_source.ts";
 * import { buildResNet } from "../model/mod.ts";
 * const model = buildResNet("resnet50", { numClasses: 10, seed: 1 });
 * const report = await importPretrained(model, "mindspore", { cacheDir: "/tmp/cache" });
 * console.log(report.source.sha256, report.tensorsLoaded);
 * ```
 * @module
 */
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as tfl from "@tensorflow/tfjs-layers";
import {
  defaultCacheDir,
  incrementalSha256,
  type Logger,
  PipelineError,
  sha256File,
  sha256Hex,
  tempNameFor,
  writeJsonAtomic,
} from "../core/mod.ts";
import { type ImportOptions, type ImportReport, loadPretrainedInto } from "./weight_import.ts";

/**
 * The ImageNet-pretrained ResNet50 of the MindSpore tutorial "ResNet50 for image classification" (the file
 * its `resnet50(pretrained=True)` downloads; MindSpore naming, 1000-class head).
 */
export const MINDSPORE_RESNET50_URL =
  "https://mindspore-website.obs.cn-north-4.myhuaweicloud.com/notebook/models/application/resnet50_224_new.ckpt";

/** Words `--pretrained` accepts in place of a URL. */
export const PRETRAINED_ALIASES: Readonly<Record<string, string>> = { mindspore: MINDSPORE_RESNET50_URL };

/** A pretrained source resolved to a local file. */
export interface ResolvedSource {
  /** What was asked for (`mindspore`, a URL or a path). */
  source: string;
  /** The URL it came from, or null for a local file. */
  url: string | null;
  /** The local file to read. */
  path: string;
  /** Hex SHA-256 of the file. */
  sha256: string;
  /** Its size in bytes. */
  bytes: number;
  /** Whether a download was served from the cache. */
  cached: boolean;
}

/** Options of {@linkcode resolvePretrained}. */
export interface ResolveOptions {
  /** The cache folder; downloads go to `<cacheDir>/pretrained/`. Defaults to {@linkcode defaultCacheDir}. */
  cacheDir?: string;
  /** The SHA-256 the file must have (hex); checked for downloads and local files alike. */
  expectedSha256?: string;
  /** Progress of a download. */
  log?: Logger;
  /** The fetch to use (tests). */
  fetch?: typeof fetch;
}

/** What the cache records beside a download. */
interface CacheRecord {
  url: string;
  sha256: string;
  bytes: number;
  downloadedAt: string;
}

function fail(message: string, cause?: unknown): never {
  throw new PipelineError("train", message, { cause });
}

function checkExpected(sha256: string, expected: string | undefined, what: string): void {
  if (expected && sha256 !== expected.toLowerCase()) {
    fail(`Cannot use pretrained weights ${what}: SHA-256 ${sha256}, expected ${expected}`);
  }
}

/**
 * Resolve `--pretrained SOURCE` to a local file: a path or `file://` URL as is (it must exist), an
 * `http(s)://` URL or an alias downloaded into `<cacheDir>/pretrained/<hash of the URL>/<file name>` (streamed
 * to a temporary name, hashed on the way, renamed when complete; `source.json` beside it records the URL,
 * SHA-256 and size). A cached file is re-hashed before use; a damaged one is downloaded again.
 *
 * @example
 * ```ts
 * const resolved = await resolvePretrained("mindspore");
 * resolved.path; // ~/.cache/resnet-cifar-deno/pretrained/<hash>/resnet50_224_new.ckpt
 * ```
 */
export async function resolvePretrained(
  source: string,
  options: ResolveOptions = {},
): Promise<ResolvedSource> {
  const url = PRETRAINED_ALIASES[source] ?? source;
  if (!/^https?:\/\//i.test(url)) {
    const path = url.startsWith("file://") ? fileURLToPath(url) : url;
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (err) {
      return fail(`Cannot find pretrained weights ${source}: ${(err as Error).message}`, err);
    }
    if (!info.isFile) fail(`Cannot use pretrained weights ${source}: not a file`);
    const sha256 = await sha256File(path);
    checkExpected(sha256, options.expectedSha256, source);
    return { source, url: null, path, sha256, bytes: info.size, cached: false };
  }

  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const name = basename(new URL(url).pathname) || "weights";
  const dir = join(cacheDir, "pretrained", (await sha256Hex(url)).slice(0, 16));
  const path = join(dir, name);
  const recordPath = join(dir, "source.json");
  const record = await readRecord(recordPath);
  if (record && record.url === url) {
    const sha256 = await sha256File(path).catch(() => null);
    if (sha256 === record.sha256) {
      checkExpected(sha256, options.expectedSha256, url);
      return { source, url, path, sha256, bytes: record.bytes, cached: true };
    }
    options.log?.warn(`cached ${name} is missing or damaged (SHA-256 differs); downloading it again`);
  }

  await Deno.mkdir(dir, { recursive: true });
  const doFetch = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await doFetch(url);
  } catch (err) {
    return fail(`Cannot download pretrained weights ${url}: ${(err as Error).message}`, err);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    fail(`Cannot download pretrained weights ${url}: HTTP ${response.status} ${response.statusText}`.trim());
  }
  const lengthHeader = response.headers.get("content-length");
  const total = lengthHeader ? Number(lengthHeader) : undefined;
  const tmp = tempNameFor(path);
  const hash = incrementalSha256();
  let received = 0;
  const progress = options.log?.progress(`download ${name}`, { unit: "B" });
  try {
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          hash.update(chunk);
          received += chunk.byteLength;
          progress?.update(received, total);
          controller.enqueue(chunk);
        },
      }),
    );
    await counted.pipeTo(file.writable);
    if (total !== undefined && received !== total) {
      throw new Error(`got ${received} bytes of ${total} (connection cut?)`);
    }
    const sha256 = hash.digestHex();
    checkExpected(sha256, options.expectedSha256, url);
    await Deno.rename(tmp, path);
    progress?.done();
    await writeJsonAtomic(recordPath, {
      url,
      sha256,
      bytes: received,
      downloadedAt: new Date().toISOString(),
    });
    return { source, url, path, sha256, bytes: received, cached: false };
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    if (err instanceof PipelineError) throw err;
    return fail(`Cannot download pretrained weights ${url}: ${(err as Error).message}`, err);
  }
}

async function readRecord(path: string): Promise<CacheRecord | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as CacheRecord;
  } catch {
    return null;
  }
}

/** Options of {@linkcode importPretrained}. */
export type ImportPretrainedOptions = ResolveOptions & ImportOptions;

/** What {@linkcode importPretrained} did: the import report and where the file came from. */
export interface PretrainedReport extends ImportReport {
  /** The resolved source (URL, local path, SHA-256, size, cache hit). */
  source: ResolvedSource;
}

/**
 * Resolve `source` ({@linkcode resolvePretrained}) and import it into `model` ({@linkcode loadPretrainedInto}):
 * every layer but the head gets the file's weights; the head stays the model's fresh one unless `keepHead`.
 *
 * @example
 * ```ts
 * import { buildResNet } from "../model/mod.ts";
 * import { createLogger } from "../core/mod.ts";
 * const model = buildResNet("resnet50", { numClasses: 10, seed: 1 });
 * const config = { pretrained: "mindspore" };
 * const [cacheDir, ctx] = ["/tmp/cache", { log: createLogger() }];
 * const report = await importPretrained(model, config.pretrained!, { cacheDir, log: ctx.log });
 * ctx.log.info(`imported ${report.tensorsLoaded} tensors from ${report.file} (sha256 ${report.source.sha256})`);
 * ```
 */
export async function importPretrained(
  model: tfl.LayersModel,
  source: string,
  options: ImportPretrainedOptions = {},
): Promise<PretrainedReport> {
  const resolved = await resolvePretrained(source, options);
  const report = await loadPretrainedInto(model, resolved.path, options);
  return { ...report, source: resolved };
}
