/**
 * What a verified cache hit costs: `lookupCacheEntry` (every byte re-hashed) timed five times over the fetch
 * entry of a cache. Make one first: `deno task pipeline --stages fetch --data-url ARCHIVE --cache-dir DIR`.
 *
 * ```sh
 * deno run -A bench/cache_hit_bench.ts DIR
 * ```
 * @module
 */
import { lookupCacheEntry } from "../lib/run/mod.ts";
const cacheDir = Deno.args[0];
const key =
  [...Deno.readDirSync(`${cacheDir}/fetch`)].find((e) => e.isDirectory && /^[0-9a-f]{64}$/.test(e.name))!
    .name;
const times: number[] = [];
let bytes = 0;
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  const r = await lookupCacheEntry(cacheDir, "fetch", key);
  times.push((performance.now() - t) / 1000);
  if (r.state !== "hit") throw new Error(r.state);
  bytes = r.manifest.outputs.reduce((a, o) => a + o.bytes, 0);
}
times.sort((a, b) => a - b);
console.log(
  `fetch entry: ${(bytes / 1e6).toFixed(1)} MB in ${times.length} verified hits: median ${
    times[2].toFixed(2)
  } s (min ${times[0].toFixed(2)}, max ${times[4].toFixed(2)}), ${(bytes / 1e6 / times[2]).toFixed(0)} MB/s`,
);
