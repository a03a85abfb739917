/**
 * The architecture, checked: which folders may import which (through their mod.ts faces only), stage keys
 * derived from the module graph, the route table against the files in routes/, and the run reader's notes.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { codeDigestsOf, moduleGraph } from "../lib/run/code_graph.ts";
import { explainRerun } from "../lib/run/runner.ts";
import { PROJECT_ROOT } from "../lib/core/paths.ts";
import { STAGES } from "../pipeline/stages.ts";
import { POST_ROUTES, ROUTES } from "../app.ts";
import { readRun } from "../lib/dashboard/run_reader.ts";
import { makeFixtureRun } from "./fixtures/make_run.ts";

/** The lib/ folders in the order data flows, and the folders each may import (through their mod.ts). */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  data: ["core"],
  webgpu: ["core"],
  model: ["core", "data", "webgpu"],
  weights: ["core", "model"],
  config: ["core", "data", "model", "webgpu"],
  contract: ["core", "data", "config"],
  run: ["core", "config", "contract"],
  train: ["core", "data", "model", "webgpu", "config", "contract"],
  figures: ["core", "data", "contract"],
  infer: ["core", "data", "model", "webgpu", "contract", "figures"],
  dashboard: ["core", "contract", "figures"],
};
/** What islands (browser code) may import outside islands/: pure, browser-safe leaves. */
const ISLAND_LEAVES = ["lib/core/format.ts", "lib/figures/style.ts"];

interface Edge {
  from: string;
  to: string;
}

/** Every import edge between project files that Deno itself resolves, from the given entry modules. */
async function projectEdges(entries: string[]): Promise<Edge[]> {
  const edges = new Map<string, Edge>();
  for (const entry of entries) {
    const graph = await moduleGraph(new URL(`file://${join(PROJECT_ROOT, entry)}`));
    for (const mod of graph.modules) {
      if (!mod.specifier.startsWith("file:")) continue;
      const from = relative(PROJECT_ROOT, fileURLToPath(mod.specifier));
      // Type-only imports count here: a folder may not even name another's types against the directions.
      for (const dep of mod.dependencies ?? []) {
        for (const target of [dep.code?.specifier, dep.type?.specifier]) {
          if (target) {
            const to = target.startsWith("file:") ? relative(PROJECT_ROOT, fileURLToPath(target)) : target;
            edges.set(`${from}→${to}`, { from, to });
          }
        }
      }
    }
  }
  return [...edges.values()];
}

async function filesUnder(dir: string, pattern: RegExp): Promise<string[]> {
  const found: string[] = [];
  const walk = async (sub: string) => {
    for await (const entry of Deno.readDir(join(PROJECT_ROOT, sub))) {
      const rel = `${sub}/${entry.name}`;
      if (entry.isDirectory) await walk(rel);
      else if (pattern.test(entry.name)) found.push(rel);
    }
  };
  await walk(dir);
  return found.sort();
}

const libFolder = (path: string) => path.startsWith("lib/") ? path.split("/")[1] : null;

Deno.test("layout: lib/ folders import each other only through mod.ts, in the allowed directions", async () => {
  const libEntries = await filesUnder("lib", /\.ts$/);
  const others = ["main.ts", "pipeline/main.ts", "islands/client.ts", ...await filesUnder("bench", /\.ts$/)];
  const edges = await projectEdges([...libEntries, ...others]);
  assert.ok(edges.length > 100, `only ${edges.length} import edges found`);
  const faults: string[] = [];
  for (const { from, to } of edges) {
    const a = libFolder(from), b = libFolder(to);
    if (
      from.startsWith("lib/") &&
      /^(pipeline|routes|components|islands|bench|tests)\/|^(app|main|utils)\.ts$/.test(to)
    ) {
      faults.push(`${from} imports ${to}: lib/ never imports the command, the dashboard or tests`);
    }
    if (b === null || a === b) continue;
    if (from.startsWith("islands/")) {
      if (!ISLAND_LEAVES.includes(to)) {
        faults.push(`${from} imports ${to}: islands may import only ${ISLAND_LEAVES}`);
      }
      continue;
    }
    if (!to.endsWith("/mod.ts")) faults.push(`${from} imports ${to}, not lib/${b}/mod.ts`);
    if (a !== null && !ALLOWED[a]?.includes(b)) {
      faults.push(`lib/${a} may not import lib/${b} (${from} → ${to})`);
    }
  }
  for (const folder of Object.keys(ALLOWED)) {
    assert.ok((await Deno.stat(join(PROJECT_ROOT, "lib", folder, "mod.ts"))).isFile, `lib/${folder}/mod.ts`);
  }
  assert.deepEqual(faults, []);
});

Deno.test("layout: islands and the dashboard reach no tfjs, no training code and no run writer", async () => {
  const reach = async (entry: string) => {
    const code = await codeDigestsOf(new URL(`file://${join(PROJECT_ROOT, entry)}`));
    return Object.keys(code);
  };
  for (const entry of ["islands/client.ts", "main.ts"]) {
    const reached = await reach(entry);
    assert.ok(reached.length > 5, `${entry} reaches ${reached.length} modules`);
    const bad = reached.filter((f) =>
      /^npm:@tensorflow\//.test(f) || /^lib\/(model|train|weights|run)\//.test(f) || f.startsWith("pipeline/")
    );
    assert.deepEqual(bad, [], `${entry} reaches ${bad.join(", ")}`);
  }
});

Deno.test("layout: stage keys come from the import graph; the train key covers what it reaches indirectly", async () => {
  const byName = new Map(STAGES.map((s) => [s.name, s]));
  const train = await codeDigestsOf(byName.get("train")!.module);
  // Reached only indirectly (pipeline/train.ts → lib/data/mod.ts → …, lib/model/mod.ts → …).
  for (const file of ["lib/data/cifar_format.ts", "lib/core/random.ts", "lib/train/loop.ts"]) {
    assert.ok(train[file], `train's key misses ${file}`);
  }
  assert.match(
    Object.keys(train).find((k) => k.startsWith("npm:@tensorflow/tfjs-core@")) ?? "",
    /@4\.22\.0$/,
  );
  const evaluate = await codeDigestsOf(byName.get("evaluate")!.module);
  assert.equal(evaluate["lib/train/loop.ts"], undefined, "evaluate does not run the training loop");
  const dashboardFiles = [
    ...await filesUnder("routes", /\.tsx?$/),
    ...await filesUnder("islands", /\.tsx?$/),
    ...await filesUnder("components", /\.tsx?$/),
    ...await filesUnder("lib/dashboard", /\.ts$/),
    "app.ts",
    "main.ts",
    "utils.ts",
  ];
  for (const stage of STAGES) {
    const code = await codeDigestsOf(stage.module);
    const touched = dashboardFiles.filter((f) => code[f]);
    assert.deepEqual(touched, [], `${stage.name}'s key holds dashboard files`);
  }
});

Deno.test("layout: editing a file a module imports indirectly changes its code digests and names the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "code-graph-" });
  try {
    await Deno.mkdir(join(dir, "lib"));
    await Deno.writeTextFile(join(dir, "stage.ts"), 'import { b } from "./lib/b.ts";\nexport const a = b;\n');
    await Deno.writeTextFile(join(dir, "lib/b.ts"), 'import { c } from "./c.ts";\nexport const b = c;\n');
    await Deno.writeTextFile(join(dir, "lib/c.ts"), "export const c = 1;\n");
    await Deno.writeTextFile(join(dir, "lib/unrelated.ts"), "export const u = 1;\n");
    const stage = new URL(`file://${join(dir, "stage.ts")}`);
    const before = await codeDigestsOf(stage, { root: dir });
    assert.deepEqual(Object.keys(before), ["lib/b.ts", "lib/c.ts", "stage.ts"]);
    await Deno.writeTextFile(join(dir, "lib/unrelated.ts"), "export const u = 2;\n");
    assert.deepEqual(await codeDigestsOf(stage, { root: dir }), before, "an unreached file changes nothing");
    await Deno.writeTextFile(join(dir, "lib/c.ts"), "export const c = 2;\n");
    const after = await codeDigestsOf(stage, { root: dir });
    const reason = explainRerun({ params: {}, inputs: {}, code: before }, {
      params: {},
      inputs: {},
      code: after,
    });
    assert.equal(reason, "code changed: lib/c.ts");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("layout: the route table covers every file in routes/", async () => {
  const files = (await filesUnder("routes", /\.tsx?$/)).filter((f) => !/\/_(app|404)\.tsx$/.test(f));
  // Fresh's file names: index → "/", [id] → ":id", [...path] → "*".
  const patternOf = (file: string) =>
    "/" + file.replace(/^routes\//, "").replace(/\.tsx?$/, "").replace(/(^|\/)index$/, "")
      .replace(/\[\.\.\.[^\]]+\]/g, "*").replace(/\[([^\]]+)\]/g, ":$1");
  const table = [...ROUTES, ...POST_ROUTES].map(([pattern]) => pattern).sort();
  assert.deepEqual(files.map(patternOf).map((p) => p === "/" ? p : p.replace(/\/$/, "")).sort(), table);
});

Deno.test("layout: readRun records each note of run.json once", async () => {
  const root = await Deno.makeTempDir({ prefix: "notes-once-" });
  try {
    const run = await makeFixtureRun(join(root, "old"), { visualize: false });
    const manifestPath = join(run.dir, "run.json");
    const manifest = JSON.parse(await Deno.readTextFile(manifestPath));
    delete manifest.version;
    await Deno.writeTextFile(manifestPath, JSON.stringify(manifest));
    const view = await readRun(root, "old");
    assert.ok(view);
    const notes = view.notes.filter((n) => /no version/.test(n));
    assert.deepEqual(notes, ["run.json has no version: written by an older pipeline"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
