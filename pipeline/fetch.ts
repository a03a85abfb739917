/**
 * The fetch stage: the CIFAR-10 archive from `config.dataUrl` (http(s)://, file:// or a path), streamed
 * through gunzip and a tar reader into `fetch/`: the six batch files, each verified against its official
 * SHA-256, and `batches.meta.txt` (checked to hold ten class names).
 *
 * `dataUrl` is not a param: the output is the verified member set, whatever mirror it came from.
 *
 * @example
 * ```ts
 * import type { StageContext } from "../lib/run/mod.ts";
 * import { resolveConfig } from "../lib/config/mod.ts";
 * declare const ctx: StageContext;
 * const config = resolveConfig("quick");
 * import { fetchStage } from "./fetch.ts";
 * fetchStage.params(config); // {}
 * await fetchStage.run(ctx); // writes ctx.dir/data_batch_1.bin … test_batch.bin, batches.meta.txt
 * ```
 * @module
 */
import { join } from "node:path";
import {
  fetchArchive,
  META_FILE,
  OFFICIAL_SHA256,
  parseClassNames,
  type RetryOptions,
} from "../lib/data/mod.ts";
import { formatMegabytes, PipelineError } from "../lib/core/mod.ts";
import type { StageDefinition } from "../lib/run/mod.ts";

/** Options of {@linkcode createFetchStage}; the defaults are what the pipeline uses. */
export interface FetchStageOptions {
  /** Base name → SHA-256 of the members to verify (default: the official sums). For tests. */
  expected?: Readonly<Record<string, string>>;
  /** Retry policy (default: 4 tries, 0.5 s / 1 s / 2 s backoff). Tests make it fast. */
  retry?: RetryOptions;
}

/**
 * A fetch stage with its checksums and retry policy injectable.
 *
 * @example
 * ```ts
 * const stage = createFetchStage({ expected: { "data_batch_1.bin": "…" }, retry: { delayMs: () => 1 } });
 * ```
 */
export function createFetchStage(options: FetchStageOptions = {}): StageDefinition {
  const expected = options.expected ?? OFFICIAL_SHA256;
  return {
    name: "fetch",
    deps: [],
    module: new URL(import.meta.url),
    params: () => ({}),
    async run(ctx) {
      const started = performance.now();
      const result = await fetchArchive(ctx.config.dataUrl, ctx.dir, {
        expected,
        members: [...Object.keys(expected), META_FILE],
        retry: options.retry,
        log: ctx.log,
        stage: "fetch",
      });
      const metaPath = join(ctx.dir, META_FILE);
      try {
        parseClassNames(await Deno.readTextFile(metaPath), {
          file: `${META_FILE} from ${result.source}`,
          stage: "fetch",
        });
      } catch (err) {
        await Promise.all(result.members.map((m) => Deno.remove(join(ctx.dir, m.name)).catch(() => {})));
        if (err instanceof PipelineError) throw err;
        throw new PipelineError("fetch", `Cannot read ${metaPath}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      const seconds = (performance.now() - started) / 1000;
      ctx.log.info(
        `fetch: ${result.members.length} members verified from ${result.source} ` +
          `(${formatMegabytes(result.archiveBytes)} in ${seconds.toFixed(1)} s)`,
      );
      return {
        source: result.source,
        archiveBytes: result.archiveBytes,
        resumes: result.resumes,
        members: result.members.map(({ name, bytes, sha256, verified }) => ({
          name,
          bytes,
          sha256,
          verified,
        })),
      };
    },
  };
}

/** The fetch stage, verifying against the official sums. */
export const fetchStage: StageDefinition = createFetchStage();
