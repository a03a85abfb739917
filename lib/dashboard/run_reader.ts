/**
 * The one module the dashboard reads run folders through. It lists runs, reads each file of the
 * run-folder contract tolerantly (missing, half-written, older or still-growing files become notes, never
 * exceptions) and resolves paths so that nothing outside the runs folder is ever read: no `..`, no absolute
 * paths, no encoded separators, no symlinks that lead out.
 *
 * It only reads; it never writes into a run folder.
 *
 * @example
 * ```ts
 * import { listRuns, readRun } from "./run_reader.ts";
 * for (const run of await listRuns("runs")) console.log(run.id, run.status, run.bestAccuracy);
 * const view = await readRun("runs", "quick");
 * if (view) console.log(view.missing);
 * ```
 * @module
 */
import { isAbsolute, resolve, sep } from "node:path";
import {
  type DecodeMeta,
  epochCurve,
  type EpochPoint,
  type Evaluation,
  imageCountOf,
  metricsParser,
  type Parsed,
  parseDecodeMeta,
  parseEvaluation,
  parsePredictions,
  parseRunManifest,
  parseSamplesInfo,
  parseTrainSummary,
  type Predictions,
  readImagesAt,
  type RunManifestView,
  type SamplesInfo,
  STAGE_NAMES,
  type StageName,
  type StageRecord,
  type TrainMetrics,
  type TrainSummary,
} from "../contract/mod.ts";
import { formatBytes, plural, processState } from "../core/mod.ts";
import { boundedLines, readTextBounded } from "./bounded_read.ts";

/** The most step points a page or a live poll carries: longer logs are thinned (every k-th step). */
export const MAX_CURVE_STEPS = 2000;

/**
 * A run's status as the dashboard shows it: run.json's, except that a run still marked "running" whose
 * process is gone (killed with -9, crashed, machine rebooted) is "stopped".
 */
export type RunStatus = RunManifestView["status"] | "stopped";

/**
 * The status to show for a manifest: "stopped" for a "running" run whose recorded process is gone.
 *
 * @example
 * ```ts
 * shownStatus(null); // "unknown"
 * ```
 */
export function shownStatus(manifest: RunManifestView | null): RunStatus {
  const status = manifest?.status ?? "unknown";
  if (status === "running" && manifest?.process && processState(manifest.process) === "gone") {
    return "stopped";
  }
  return status;
}

/**
 * What the dashboard reads at most: a JSON file of a run folder over its limit is said to be invalid
 * without being read, and a line of `metrics.jsonl` over its limit is counted as unreadable and skipped.
 * The figures leave room many times over for what the pipeline writes (see docs/dashboard-limits.md).
 */
export const READ_LIMITS = {
  /** run.json, decode/meta.json, augment/samples.json, train/train.json, evaluate/evaluation.json. */
  jsonBytes: 4_000_000,
  /** evaluate/predictions.json: 10,000 test images with their ten probabilities are about 3 MB. */
  predictionsBytes: 16_000_000,
  /** One line of train/metrics.jsonl (the pipeline writes lines of about 200 bytes). */
  metricsLineBytes: 64_000,
} as const;

/**
 * Read `train/metrics.jsonl` of a run as a stream, in memory bounded by `maxSteps` (the steps are
 * thinned) and by {@linkcode READ_LIMITS}'s line length, in time linear in its length, whatever the log
 * holds; null when it is missing.
 */
async function readMetricsBounded(
  runDir: string,
  rel: string,
  maxSteps: number,
): Promise<(TrainMetrics & { longLines: number }) | null> {
  const path = await resolveInside(runDir, rel.split("/"));
  if (path === null) return null;
  let file: Deno.FsFile;
  try {
    if (!(await Deno.stat(path)).isFile) return null;
    file = await Deno.open(path);
  } catch {
    return null;
  }
  const parser = metricsParser({ maxSteps });
  let longLines = 0;
  let partial = false;
  try {
    for await (const piece of boundedLines(file.readable, { maxLineBytes: READ_LIMITS.metricsLineBytes })) {
      if (piece.kind === "line") parser.line(piece.text, piece.bytes);
      else if (piece.kind === "long") {
        parser.line("", piece.bytes); // counts its bytes; the line itself is never decoded
        longLines++;
      } else if (piece.kind === "partial-long") longLines++;
      else partial = piece.text.trim() !== "";
    }
  } catch {
    // Unreadable midway: what was read stands.
  }
  const metrics = parser.result();
  metrics.badLines += longLines;
  metrics.partialLine = partial;
  return { ...metrics, longLines };
}

/**
 * A run id: a folder name in the runs folder, up to 128 characters: any letters (accents too), digits,
 * spaces and punctuation, but no `/`, `\\`, NUL or control character, and not starting with a dot.
 * `resolveInside` still checks that it stays inside the runs folder.
 */
// deno-lint-ignore no-control-regex -- control characters are exactly what a run id may not hold
export const RUN_ID_PATTERN = /^[^./\\\u0000-\u001f\u007f][^/\\\u0000-\u001f\u007f]{0,127}$/u;

/** Whether `id` may name a run folder. */
export function isValidRunId(id: string): boolean {
  return RUN_ID_PATTERN.test(id);
}

async function realDir(path: string): Promise<string | null> {
  try {
    return await Deno.realPath(path);
  } catch {
    return null;
  }
}

function within(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Resolve `segments` (already URL-decoded, one path segment each) inside `root`, following symlinks, and
 * return the real path only if it exists and lies inside `root`'s real path. Segments that are empty, `.`,
 * `..`, absolute or hold a separator or NUL are refused.
 *
 * @example
 * ```ts
 * await resolveInside("runs", ["quick", "visualize", "samples.png"]); // "/abs/runs/quick/visualize/samples.png"
 * await resolveInside("runs", ["..", "etc"]); // null
 * ```
 */
export async function resolveInside(root: string, segments: readonly string[]): Promise<string | null> {
  for (const s of segments) {
    if (s === "" || s === "." || s === ".." || s.includes("/") || s.includes("\\") || s.includes("\0")) {
      return null;
    }
    if (isAbsolute(s)) return null;
  }
  const realRoot = await realDir(root);
  if (realRoot === null) return null;
  const candidate = resolve(realRoot, ...segments);
  if (!within(realRoot, candidate)) return null;
  const real = await realDir(candidate);
  if (real === null || !within(realRoot, real)) return null;
  return real;
}

/**
 * Split the raw (still percent-encoded) rest of a URL path into decoded segments; null when a segment
 * cannot be decoded.
 *
 * @example
 * ```ts
 * decodePathSegments("visualize/samples.png"); // ["visualize", "samples.png"]
 * decodePathSegments("..%2fetc%2fpasswd"); // ["../etc/passwd"] (resolveInside refuses it)
 * ```
 */
export function decodePathSegments(rawPath: string): string[] | null {
  try {
    return rawPath.split("/").map((s) => decodeURIComponent(s));
  } catch {
    return null;
  }
}

/** The real path of run `id`'s folder, or null when there is no such run inside `runsDir`. */
export async function resolveRunDir(runsDir: string, id: string): Promise<string | null> {
  if (!isValidRunId(id)) return null;
  const dir = await resolveInside(runsDir, [id]);
  if (dir === null) return null;
  try {
    return (await Deno.stat(dir)).isDirectory ? dir : null;
  } catch {
    return null;
  }
}

/** What reading one file gave. */
export type FileState<T> =
  | { state: "ok"; value: T; notes: string[] }
  | { state: "missing" }
  | { state: "invalid"; problem: string };

async function readJsonFile<T>(
  runDir: string,
  rel: string,
  parse: (json: unknown) => Parsed<T>,
): Promise<FileState<T>> {
  const path = await resolveInside(runDir, rel.split("/"));
  if (path === null) return { state: "missing" };
  const maxBytes = rel === "evaluate/predictions.json" ? READ_LIMITS.predictionsBytes : READ_LIMITS.jsonBytes;
  const read = await readTextBounded(path, { maxBytes });
  if (read.state === "missing") return { state: "missing" };
  if (read.state === "too-large") {
    return {
      state: "invalid",
      problem: `${rel} is ${formatBytes(read.bytes)}, over the ${formatBytes(maxBytes)} the dashboard reads`,
    };
  }
  const text = read.text;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return {
      state: "invalid",
      problem: text.trim() === "" ? `${rel} is empty` : `${rel} is not valid JSON (half written?)`,
    };
  }
  const parsed = parse(json);
  return parsed.ok
    ? { state: "ok", value: parsed.value, notes: parsed.notes }
    : { state: "invalid", problem: parsed.problem };
}

function valueOf<T>(file: FileState<T>): T | null {
  return file.state === "ok" ? file.value : null;
}

/** One stage as the dashboard shows it. */
export interface StageView {
  name: StageName;
  /** The stage's entry in run.json, or null when run.json has none. */
  record: StageRecord | null;
  /** Whether the stage's folder exists. */
  present: boolean;
}

/** Everything the dashboard shows about one run. */
export interface RunView {
  id: string;
  /** Real path of the run folder. */
  dir: string;
  manifest: RunManifestView | null;
  /** Status from run.json, or "unknown" when it has none. */
  status: RunStatus;
  stages: StageView[];
  meta: DecodeMeta | null;
  testImageCount: number;
  samples: SamplesInfo | null;
  sampleImageCount: number;
  train: TrainSummary | null;
  metrics: TrainMetrics | null;
  /** Per-epoch points: train.json's, or those of metrics.jsonl while training goes on. */
  epochs: EpochPoint[];
  evaluation: Evaluation | null;
  /** Whether `evaluate/evaluation.json` is there and usable, absent, or there but unusable. */
  evaluationState: "ok" | "missing" | "invalid";
  predictions: Predictions | null;
  /** Whether `train/checkpoints/best` holds a model (the "classify an image" box needs it). */
  hasBestCheckpoint: boolean;
  /** The class names, from wherever they were found first. */
  classes: string[];
  /** Files present in `visualize/`. */
  figures: string[];
  /** Best test accuracy seen (train.json, metrics end line, epochs, or evaluation). */
  bestAccuracy: number | null;
  /** One line for each thing that should be there and is not, or cannot be used. */
  missing: string[];
  /** Softer remarks: older versions, skipped malformed entries. */
  notes: string[];
}

async function exists(runDir: string, rel: string): Promise<boolean> {
  return (await resolveInside(runDir, rel.split("/"))) !== null;
}

async function countImages(runDir: string, rel: string): Promise<number> {
  const path = await resolveInside(runDir, rel.split("/"));
  if (path === null) return 0;
  try {
    return await imageCountOf(path);
  } catch {
    return 0;
  }
}

function bestAccuracyOf(
  train: TrainSummary | null,
  metrics: TrainMetrics | null,
  epochs: EpochPoint[],
  evaluation: Evaluation | null,
): number | null {
  if (train?.bestAccuracy != null) return train.bestAccuracy;
  if (metrics?.end?.bestAccuracy != null) return metrics.end.bestAccuracy;
  const accs = epochs.map((e) => e.testAccuracy).filter((a): a is number => a !== null);
  if (accs.length) return Math.max(...accs);
  return evaluation?.accuracy ?? null;
}

/**
 * Read everything there is to show about run `id`; null when there is no such run folder.
 * Never throws for what it finds in the folder.
 *
 * @example
 * ```ts
 * const view = await readRun("runs", "smoke");
 * ```
 */
export async function readRun(runsDir: string, id: string): Promise<RunView | null> {
  const dir = await resolveRunDir(runsDir, id);
  if (dir === null) return null;
  const missing: string[] = [];
  const notes: string[] = [];
  const take = <T>(file: FileState<T>, rel: string, consequence: string): T | null => {
    if (file.state === "missing") missing.push(`${rel} is missing: ${consequence}`);
    else if (file.state === "invalid") missing.push(`${file.problem}: ${consequence}`);
    else notes.push(...file.notes);
    return valueOf(file);
  };

  const manifestFile = await readJsonFile(dir, "run.json", parseRunManifest);
  const manifest = take(manifestFile, "run.json", "no status, config or stage records");
  const present = await Promise.all(STAGE_NAMES.map((s) => exists(dir, s)));
  const stages: StageView[] = STAGE_NAMES.map((name, i) => ({
    name,
    record: manifest?.stages[name] ?? null,
    present: present[i],
  }));
  const status = shownStatus(manifest);
  const live = status === "running";
  if (status === "stopped") {
    notes.push(
      `run.json says running, but its process (pid ${manifest?.process?.pid}) is gone: the run stopped ` +
        `without a word (killed?); last heartbeat ${manifest?.heartbeatAt ?? "unknown"}`,
    );
  }
  const meta = take(
    await readJsonFile(dir, "decode/meta.json", parseDecodeMeta),
    "decode/meta.json",
    "no class names",
  );
  const testImageCount = await countImages(dir, "decode/test_images.u8");
  if (testImageCount === 0) missing.push("decode/test_images.u8 is missing or empty: no test images to show");
  const samples = take(
    await readJsonFile(dir, "augment/samples.json", parseSamplesInfo),
    "augment/samples.json",
    "no sample grid",
  );
  const sampleImageCount = await countImages(dir, "augment/samples.u8");
  if (samples && sampleImageCount < samples.count) {
    missing.push(`augment/samples.u8 holds ${sampleImageCount} of ${samples.count} sample images`);
  }
  const trainFile = await readJsonFile(dir, "train/train.json", parseTrainSummary);
  const train = trainFile.state === "missing" && live
    ? null
    : take(trainFile, "train/train.json", "curves come from metrics.jsonl alone");
  if (trainFile.state === "missing" && live) {
    notes.push("train/train.json is not written yet: training is still going");
  }
  if (train?.diverged) {
    const { epoch, step, loss, lr } = train.diverged;
    notes.push(
      `the run diverged: its loss reached ${loss.toLocaleString("en-US", { maximumFractionDigits: 2 })} at ` +
        `epoch ${epoch}, step ${step} (lr ${lr}); its accuracy says little`,
    );
  }
  const metrics = await readMetricsBounded(dir, "train/metrics.jsonl", MAX_CURVE_STEPS);
  if (metrics === null) missing.push("train/metrics.jsonl is missing: no step losses");
  else {
    if ((metrics.stepLines ?? 0) > metrics.steps.length) {
      notes.push(`train/metrics.jsonl: ${metrics.stepLines} steps, shown thinned to ${metrics.steps.length}`);
    }
    if (metrics.badLines > 0) {
      const long = metrics.longLines > 0
        ? ` (${metrics.longLines} over ${formatBytes(READ_LIMITS.metricsLineBytes)}, not read)`
        : "";
      notes.push(`train/metrics.jsonl: ${plural(metrics.badLines, "unreadable line")} skipped${long}`);
    }
  }
  const epochs = epochCurve(train, metrics);
  const pending = live ? " (the run has not got there yet)" : "";
  const evaluationFile = await readJsonFile(dir, "evaluate/evaluation.json", parseEvaluation);
  const evaluation = take(
    evaluationFile,
    "evaluate/evaluation.json",
    `no confusion matrix or per-class accuracy${pending}`,
  );
  const predictions = take(
    await readJsonFile(dir, "evaluate/predictions.json", parsePredictions),
    "evaluate/predictions.json",
    `no prediction grid${pending}`,
  );
  if (predictions && testImageCount > 0) {
    const outside = predictions.items.filter((i) => i.index >= testImageCount).length;
    if (outside > 0) notes.push(`${outside} predictions point past the ${testImageCount} test images`);
  }
  const figures: string[] = [];
  const visualizeDir = await resolveInside(dir, ["visualize"]);
  if (visualizeDir) {
    try {
      for await (const entry of Deno.readDir(visualizeDir)) {
        if (entry.isFile && /\.(png|svg)$/.test(entry.name)) figures.push(entry.name);
      }
    } catch { /* unreadable: no figures */ }
  } else if (!live) missing.push("visualize/ is missing: no figure files");
  figures.sort();
  if (manifest) {
    if (manifest.error) notes.push(`the run failed: ${manifest.error}`);
    for (const stage of stages) {
      if (!stage.record) notes.push(`run.json has no record of the ${stage.name} stage`);
    }
  }
  const classes = evaluation?.classes ?? predictions?.classes ?? meta?.classes ?? [];
  const hasBestCheckpoint = await exists(dir, "train/checkpoints/best/model.json");
  return {
    id,
    dir,
    evaluationState: evaluationFile.state,
    hasBestCheckpoint,
    manifest,
    status,
    stages,
    meta,
    testImageCount,
    samples,
    sampleImageCount,
    train,
    metrics,
    epochs,
    evaluation,
    predictions,
    classes,
    figures,
    bestAccuracy: bestAccuracyOf(train, metrics, epochs, evaluation),
    missing,
    notes,
  };
}

/** One row of the list of runs. */
export interface RunSummary {
  id: string;
  status: RunStatus;
  preset: string | null;
  bestAccuracy: number | null;
  epochs: number;
  createdAt: string | null;
  updatedAt: string | null;
  /** Why the row is incomplete, if it is. */
  problem: string | null;
}

/**
 * The runs in `runsDir`: every sub-folder with a valid id that holds a run.json or a stage folder, newest
 * first. A missing runs folder gives an empty list.
 *
 * @example
 * ```ts
 * const runs = await listRuns("runs");
 * ```
 */
export async function listRuns(runsDir: string): Promise<RunSummary[]> {
  const root = await realDir(runsDir);
  if (root === null) return [];
  const ids: string[] = [];
  try {
    for await (const entry of Deno.readDir(root)) {
      if ((entry.isDirectory || entry.isSymlink) && isValidRunId(entry.name)) ids.push(entry.name);
    }
  } catch {
    return [];
  }
  const rows: RunSummary[] = [];
  for (const id of ids) {
    const dir = await resolveRunDir(root, id);
    if (dir === null) continue;
    const manifestFile = await readJsonFile(dir, "run.json", parseRunManifest);
    const hasStage = (await Promise.all(STAGE_NAMES.map((s) => exists(dir, s)))).some(Boolean);
    if (manifestFile.state === "missing" && !hasStage) continue;
    const manifest = valueOf(manifestFile);
    const train = valueOf(await readJsonFile(dir, "train/train.json", parseTrainSummary));
    const metrics = train ? null : await readMetricsBounded(dir, "train/metrics.jsonl", MAX_CURVE_STEPS);
    const epochs = epochCurve(train, metrics);
    const evaluation = train || epochs.length
      ? null
      : valueOf(await readJsonFile(dir, "evaluate/evaluation.json", parseEvaluation));
    let createdAt = manifest?.createdAt ?? null;
    if (createdAt === null) {
      try {
        createdAt = (await Deno.stat(dir)).mtime?.toISOString() ?? null;
      } catch { /* leave it unknown */ }
    }
    rows.push({
      id,
      status: shownStatus(manifest),
      preset: manifest?.preset ?? null,
      bestAccuracy: bestAccuracyOf(train, metrics, epochs, evaluation),
      epochs: epochs.length,
      createdAt,
      updatedAt: manifest?.updatedAt ?? null,
      problem: manifestFile.state === "missing"
        ? "run.json is missing"
        : manifestFile.state === "invalid"
        ? manifestFile.problem
        : manifest?.version === null
        ? "older run.json (no version)"
        : null,
    });
  }
  return rows.sort((a, b) =>
    (b.createdAt ?? "").localeCompare(a.createdAt ?? "") || a.id.localeCompare(b.id)
  );
}

/**
 * What a live page needs while a run trains: its status, stage records and the parsed metrics.
 *
 * @example
 * ```ts
 * const live = await readLive("runs", "quick");
 * ```
 */
export async function readLive(runsDir: string, id: string): Promise<
  {
    status: RunStatus;
    updatedAt: string | null;
    stages: { name: StageName; record: StageRecord | null }[];
    epochs: EpochPoint[];
    metrics: TrainMetrics | null;
  } | null
> {
  const dir = await resolveRunDir(runsDir, id);
  if (dir === null) return null;
  const manifest = valueOf(await readJsonFile(dir, "run.json", parseRunManifest));
  const train = valueOf(await readJsonFile(dir, "train/train.json", parseTrainSummary));
  const metrics = await readMetricsBounded(dir, "train/metrics.jsonl", MAX_CURVE_STEPS);
  return {
    status: shownStatus(manifest),
    updatedAt: manifest?.updatedAt ?? null,
    stages: STAGE_NAMES.map((name) => ({ name, record: manifest?.stages[name] ?? null })),
    epochs: epochCurve(train, metrics),
    metrics,
  };
}

/** Which image file of a run: the decoded test split or the augmented samples. */
export type ImageSet = "test" | "sample";

/**
 * One 32 × 32 × 3 image of a run, or null when the run, the file or the index is not there.
 *
 * @example
 * ```ts
 * const pixels = await readRunImage("runs", "quick", "test", 17);
 * ```
 */
export async function readRunImage(
  runsDir: string,
  id: string,
  set: ImageSet,
  index: number,
): Promise<Uint8Array | null> {
  const dir = await resolveRunDir(runsDir, id);
  if (dir === null || !Number.isSafeInteger(index) || index < 0) return null;
  const rel = set === "test" ? ["decode", "test_images.u8"] : ["augment", "samples.u8"];
  const path = await resolveInside(dir, rel);
  if (path === null) return null;
  try {
    return (await readImagesAt(path, [index]))[0];
  } catch {
    return null;
  }
}

/**
 * The real path of a file inside run `id` given the raw, still percent-encoded path after the run id
 * (`visualize/samples.png`); null for anything that is not a regular file inside the runs folder.
 *
 * @example
 * ```ts
 * await resolveRunFile("runs", "quick", "visualize/curves.svg");
 * ```
 */
export async function resolveRunFile(runsDir: string, id: string, rawPath: string): Promise<string | null> {
  const dir = await resolveRunDir(runsDir, id);
  const segments = decodePathSegments(rawPath);
  if (dir === null || segments === null) return null;
  const path = await resolveInside(dir, segments);
  if (path === null) return null;
  // The run folder itself was resolved inside runsDir; check the file against runsDir's real path too.
  const root = await realDir(runsDir);
  if (root === null || !within(root, path)) return null;
  try {
    return (await Deno.stat(path)).isFile ? path : null;
  } catch {
    return null;
  }
}
