/**
 * The data layer's benchmark.
 *
 * 1. fetch: the archive through `fetchArchive` (read + gunzip + untar + write + SHA-256 verify of every
 *    member) side by side with `gzip -dc ARCHIVE | tar -x`, alternating, and the ratio of the medians
 *    (target: within 1.5×).
 * 2. decode + augment + batch on one core (the main thread): decode every record of the six files, plan one
 *    epoch for 50,000 images, and make every train batch of 256 (crop, flip, normalize) for three epochs;
 *    images/s of each part and of the whole chain, per image (target: ≥ 50,000 images/s). The first epoch
 *    pays the page faults of fresh memory, later ones do not; both are shown.
 *
 * ```sh
 * deno run -A bench/data_bench.ts [--archive ../shared/data/cifar-10-binary.tar.gz] [--runs 5] [--json out.json]
 *   [--skip-fetch]
 * ```
 * `--skip-fetch` runs part 2 alone (the archive is still fetched once, untimed, as decode's input).
 * @module
 */
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { fetchArchive } from "../lib/data/mod.ts";
import { type AugmentPlan, createAugmentPlan } from "../lib/data/mod.ts";
import { testBatches, trainBatches } from "../lib/data/mod.ts";
import { ChannelStats, TUTORIAL_MEAN, TUTORIAL_STD } from "../lib/data/mod.ts";
import { TEST_FILES, TRAIN_FILES } from "../lib/data/mod.ts";
import { type DecodedSplit, decodeSplit } from "../pipeline/decode.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    archive: {
      type: "string",
      default: new URL("../../shared/data/cifar-10-binary.tar.gz", import.meta.url).pathname,
    },
    runs: { type: "string", default: "3" },
    json: { type: "string" },
    // Part 2 alone: fetch once, untimed, for the decode input (the fetch comparison takes most of a run).
    "skip-fetch": { type: "boolean", default: false },
  },
});
const archive = values.archive!;
const runs = Math.max(1, Number(values.runs));
const skipFetch = values["skip-fetch"]!;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Wall-clock and CPU seconds (user + system, all of this process's threads) of `work`. */
interface Timing {
  wall: number;
  cpu: number;
}
const timed = async (work: () => unknown): Promise<Timing> => {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  await work();
  const cpu = process.cpuUsage(cpu0);
  return { wall: (performance.now() - start) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
};
const medians = (ts: Timing[]): Timing => ({
  wall: median(ts.map((t) => t.wall)),
  cpu: median(ts.map((t) => t.cpu)),
});

/** Part 1: `runs` fetches into `fetched` (the first one kept) alternating with gzip | tar, then one over HTTP. */
async function benchFetch(root: string, fetched: string) {
  const ours: Timing[] = [];
  const reference: Timing[] = [];
  for (let run = 0; run < runs; run++) {
    const oursDir = run === 0 ? fetched : join(root, `ours-${run}`);
    const tarDir = join(root, `tar-${run}`);
    await Deno.mkdir(tarDir);
    const gzipTar = async (): Promise<Timing> => {
      // bash's `time` reports the pipeline's wall, user and system seconds (both processes).
      const script = 'TIMEFORMAT="%R %U %S"; time { gzip -dc "$1" | tar -x -C "$2"; }';
      const { code, stderr } = await new Deno.Command("bash", {
        args: ["-c", script, "bash", archive, tarDir],
      }).output();
      if (code !== 0) throw new Error(`gzip | tar exited ${code}: ${new TextDecoder().decode(stderr)}`);
      const [wall, user, system] = new TextDecoder().decode(stderr).trim().split(/\s+/).slice(-3).map(Number);
      return { wall, cpu: user + system };
    };
    const fetch = () => timed(() => fetchArchive(archive, oursDir));
    if (run % 2 === 0) {
      ours.push(await fetch());
      reference.push(await gzipTar());
    } else {
      reference.push(await gzipTar());
      ours.push(await fetch());
    }
    await Deno.remove(tarDir, { recursive: true });
    if (run > 0) await Deno.remove(oursDir, { recursive: true });
    const show = (t: Timing) => `${t.wall.toFixed(2)} s (CPU ${t.cpu.toFixed(2)} s)`;
    console.log(
      `  run ${run + 1}: fetchArchive ${show(ours[run])}, gzip -dc | tar -x ${show(reference[run])}`,
    );
  }
  const fetchRatio = medians(ours).wall / medians(reference).wall;

  // The same over HTTP from a local server that streams the file (one run: the resumable HTTP path at size).
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    const file = await Deno.open(archive);
    const { size } = await file.stat();
    return new Response(file.readable, { headers: { "content-length": String(size) } });
  });
  const httpDir = join(root, "http");
  const http = await timed(() =>
    fetchArchive(`http://127.0.0.1:${server.addr.port}/archive.tar.gz`, httpDir)
  );
  await server.shutdown();
  await Deno.remove(httpDir, { recursive: true });
  console.log(
    `  over http://127.0.0.1: ${http.wall.toFixed(2)} s (CPU ${http.cpu.toFixed(2)} s, server included)`,
  );
  return {
    ours: medians(ours),
    gzipTar: medians(reference),
    ratio: fetchRatio,
    target: 1.5,
    http,
    runs: { ours, reference },
  };
}

const root = await Deno.makeTempDir({ prefix: "data-bench-" });
try {
  console.log(`data bench: ${archive}, ${runs} runs, ${navigator.hardwareConcurrency} CPUs`);

  // 1. fetch vs gzip | tar
  const fetched = join(root, "fetched");
  const fetchResults = skipFetch ? undefined : await benchFetch(root, fetched);
  if (!fetchResults) await fetchArchive(archive, fetched);

  // 2. decode + augment + batch, one core (all of it runs on the main thread). The first epoch's batches
  // pay the page faults of fresh memory; later epochs reuse it, which is what a training run sees.
  const decodeTimes: Timing[] = [];
  const planTimes: Timing[] = [];
  const firstEpochTimes: Timing[] = [];
  const laterEpochTimes: Timing[] = [];
  const testTimes: Timing[] = [];
  let trainCount = 0;
  let testCount = 0;
  for (let run = 0; run < runs; run++) {
    let train!: DecodedSplit;
    let test!: DecodedSplit;
    decodeTimes.push(
      await timed(async () => {
        train = await decodeSplit(fetched, TRAIN_FILES, { stats: new ChannelStats() });
        test = await decodeSplit(fetched, TEST_FILES);
      }),
    );
    trainCount = train.count;
    testCount = test.count;
    let plan!: AugmentPlan;
    const params = { seed: run + 1, count: train.count, cropPadding: 4, flipProbability: 0.5 };
    planTimes.push(await timed(() => plan = createAugmentPlan({ ...params, epochs: 1 })));
    plan = createAugmentPlan({ ...params, epochs: 3 });
    const options = { batchSize: 256, mean: [...TUTORIAL_MEAN], std: [...TUTORIAL_STD] };
    for (const epoch of [0, 1, 2]) {
      const time = await timed(async () => {
        for await (const batch of trainBatches(train, plan, { ...options, epoch })) void batch;
      });
      if (epoch === 0) firstEpochTimes.push(time);
      if (epoch === 2) laterEpochTimes.push(time);
    }
    testTimes.push(
      await timed(async () => {
        for await (const batch of testBatches(test, options)) void batch;
      }),
    );
  }
  const rate = (count: number, ts: Timing[]) => {
    const m = medians(ts);
    return { wall: count / m.wall, cpu: count / m.cpu };
  };
  const decodeRate = rate(trainCount + testCount, decodeTimes);
  const planRate = rate(trainCount, planTimes);
  const firstRate = rate(trainCount, firstEpochTimes);
  const laterRate = rate(trainCount, laterEpochTimes);
  const testRate = rate(testCount, testTimes);
  const chain = (batches: Timing): Timing => {
    const of = (key: keyof Timing) => 1 / (1 / decodeRate[key] + 1 / planRate[key] + 1 / batches[key]);
    return { wall: of("wall"), cpu: of("cpu") };
  };
  const chainFirst = chain(firstRate);
  const chainLater = chain(laterRate);
  const batchMs = (medians(laterEpochTimes).wall / Math.ceil(trainCount / 256)) * 1000;

  const results = {
    load: Deno.loadavg(),
    fetch: fetchResults ?? null,
    imagesPerSecond: {
      decode: decodeRate,
      plan: planRate,
      trainBatchesFirstEpoch: firstRate,
      trainBatchesLaterEpoch: laterRate,
      testBatches: testRate,
      chainFirstEpoch: chainFirst,
      chainLaterEpoch: chainLater,
      target: 50_000,
    },
    trainBatchMs256: batchMs,
  };
  const k = (r: Timing) =>
    `${Math.round(r.wall).toLocaleString("en-US").padStart(9)} images/s  (per CPU-second ${
      Math.round(r.cpu).toLocaleString("en-US")
    })`;
  const line = (label: string, text: string) => console.log(`${label.padEnd(36)}${text}`);
  const met = (ok: boolean) => (ok ? "met" : "missed");
  console.log("");
  console.log(`medians of ${runs} runs; load average ${Deno.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  if (fetchResults) {
    const { ours, gzipTar, http, ratio } = fetchResults;
    line("fetch + gunzip + untar + verify", `${ours.wall.toFixed(2)} s  (CPU ${ours.cpu.toFixed(2)} s)`);
    line("  the same over local HTTP", `${http.wall.toFixed(2)} s  (CPU ${http.cpu.toFixed(2)} s, 1 run)`);
    line("gzip -dc | tar -x", `${gzipTar.wall.toFixed(2)} s  (CPU ${gzipTar.cpu.toFixed(2)} s)`);
    line("ratio", `${ratio.toFixed(2)}×  (target ≤ 1.5×: ${met(ratio <= 1.5)})`);
  }
  line("decode (60,000 records + stats)", k(decodeRate));
  line("augment plan (1 epoch)", k(planRate));
  line("train batches, first epoch", k(firstRate));
  line("train batches, third epoch", `${k(laterRate)}  ${batchMs.toFixed(1)} ms per batch of 256`);
  line("test batches (normalize only)", k(testRate));
  line("decode + plan + batch, first epoch", k(chainFirst));
  line("decode + plan + batch, third epoch", k(chainLater));
  console.log(
    `target ≥ 50,000 images/s (third epoch): ${met(chainLater.wall >= 50_000)} (wall), ${
      met(chainLater.cpu >= 50_000)
    } (per CPU-second)`,
  );
  if (values.json) await Deno.writeTextFile(values.json, JSON.stringify(results, null, 2) + "\n");
} finally {
  await Deno.remove(root, { recursive: true });
}
