/**
 * The pipeline's command line: one table maps every config field to its flag, its parser and its help line,
 * so `--help`, parsing and validation can never disagree.
 *
 * @example
 * ```ts
 * import { parsePipelineArgs } from "./cli_options.ts";
 * const args = parsePipelineArgs(["--preset", "quick", "--epochs", "1"]);
 * console.log(args.overrides.epochs); // 1
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { type PipelineConfig, PRESET_NAMES, type PresetName } from "../lib/config/mod.ts";
import { STAGE_NAMES, type StageName } from "../lib/contract/mod.ts";
import { ARCHS } from "../lib/model/mod.ts";
import { BACKENDS, KERNEL_POLICIES } from "../lib/webgpu/mod.ts";
import { UsageError } from "../lib/core/mod.ts";

type ConfigKey = Exclude<keyof PipelineConfig, "preset">;

interface FlagSpec {
  key: ConfigKey;
  flag: string;
  /** Placeholder in --help. */
  value: string;
  help: string;
  parse(text: string, flag: string): unknown;
}

function int(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (text: string, flag: string) => {
    if (!/^-?\d+$/.test(text)) throw new UsageError(`--${flag} must be an integer, got "${text}"`);
    const n = Number(text);
    if (n < min || n > max) throw new UsageError(`--${flag} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

function intOrAll(min: number) {
  const parseInt = int(min);
  return (text: string, flag: string) => text === "all" ? null : parseInt(text, flag);
}

function float(min: number, max: number) {
  return (text: string, flag: string) => {
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n)) {
      throw new UsageError(`--${flag} must be a number, got "${text}"`);
    }
    if (n < min || n > max) throw new UsageError(`--${flag} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

function oneOf(values: readonly string[]) {
  return (text: string, flag: string) => {
    if (!values.includes(text)) {
      throw new UsageError(`--${flag} must be one of ${values.join(", ")}, got "${text}"`);
    }
    return text;
  };
}

function triple(min: number, max: number) {
  const parseOne = float(min, max);
  return (text: string, flag: string) => {
    const parts = text.split(",");
    if (parts.length !== 3) {
      throw new UsageError(`--${flag} needs three comma-separated numbers (R,G,B), got "${text}"`);
    }
    return parts.map((p) => parseOne(p, flag));
  };
}

const text = (s: string) => s;
const textOrNone = (s: string) => (s === "none" ? null : s);

/** Every config flag. */
export const CONFIG_FLAGS: readonly FlagSpec[] = [
  {
    key: "dataUrl",
    flag: "data-url",
    value: "URL",
    help: "CIFAR-10 binary archive: http(s)://, file:// or a path (env CIFAR10_URL)",
    parse: text,
  },
  {
    key: "seed",
    flag: "seed",
    value: "N",
    help: "seed of initializers, shuffles, crops and flips",
    parse: int(0, 2 ** 32 - 1),
  },
  {
    key: "trainLimit",
    flag: "train-limit",
    value: "N|all",
    help: "use the first N train records",
    parse: intOrAll(1),
  },
  {
    key: "testLimit",
    flag: "test-limit",
    value: "N|all",
    help: "use the first N test records",
    parse: intOrAll(1),
  },
  {
    key: "cropPadding",
    flag: "crop-padding",
    value: "PX",
    help: "RandomCrop zero padding (pixels)",
    parse: int(0, 16),
  },
  {
    key: "flipProbability",
    flag: "flip-probability",
    value: "P",
    help: "RandomHorizontalFlip probability",
    parse: float(0, 1),
  },
  {
    key: "mean",
    flag: "mean",
    value: "R,G,B",
    help: "Normalize mean on the [0,1] scale",
    parse: triple(0, 1),
  },
  {
    key: "std",
    flag: "std",
    value: "R,G,B",
    help: "Normalize std on the [0,1] scale",
    parse: triple(1e-6, 10),
  },
  { key: "arch", flag: "arch", value: "NAME", help: `network: ${ARCHS.join(", ")}`, parse: oneOf(ARCHS) },
  {
    key: "width",
    flag: "width",
    value: "N|arch",
    help: "base width of the network (stem and first stage, doubling per stage); 'arch' for the family's own",
    parse: (text: string, flag: string) => text === "arch" ? null : int(1, 4096)(text, flag),
  },
  { key: "numClasses", flag: "num-classes", value: "N", help: "output classes", parse: int(2, 1000) },
  {
    key: "pretrained",
    flag: "pretrained",
    value: "SOURCE",
    help: "pretrained weights: path, URL, 'mindspore' or 'none'",
    parse: textOrNone,
  },
  {
    key: "backend",
    flag: "backend",
    value: "NAME",
    help: `tfjs backend: ${BACKENDS.join(", ")}`,
    parse: oneOf(BACKENDS),
  },
  {
    key: "kernels",
    flag: "kernels",
    value: "SET",
    help: "webgpu conv kernels: auto (cpu on a software adapter, gpu on a hardware one), cpu, gpu, stock",
    parse: oneOf(KERNEL_POLICIES),
  },
  { key: "epochs", flag: "epochs", value: "N", help: "training epochs", parse: int(1, 10_000) },
  {
    key: "batchSize",
    flag: "batch-size",
    value: "N",
    help: "training batch size (images)",
    parse: int(1, 65_536),
  },
  {
    key: "evalBatchSize",
    flag: "eval-batch-size",
    value: "N",
    help: "evaluation batch size (images)",
    parse: int(1, 65_536),
  },
  {
    key: "lrMax",
    flag: "lr-max",
    value: "LR",
    help: "cosine schedule start learning rate",
    parse: float(0, 10),
  },
  {
    key: "lrMin",
    flag: "lr-min",
    value: "LR",
    help: "cosine schedule end learning rate",
    parse: float(0, 10),
  },
  {
    key: "decayEpochs",
    flag: "decay-epochs",
    value: "N",
    help: "epochs of the cosine decay (default: --epochs)",
    parse: int(1, 10_000),
  },
  { key: "momentum", flag: "momentum", value: "M", help: "SGD momentum", parse: float(0, 1) },
  { key: "logEvery", flag: "log-every", value: "STEPS", help: "a log line every N steps", parse: int(1) },
  {
    key: "maxStepsPerEpoch",
    flag: "max-steps-per-epoch",
    value: "N|all",
    help: "cut each epoch after N steps",
    parse: intOrAll(1),
  },
  {
    key: "grid",
    flag: "grid",
    value: "N",
    help: "test predictions in the prediction grid",
    parse: int(1, 1000),
  },
];

/** What the command line asked for. */
export interface PipelineArgs {
  help: boolean;
  /** `--version`: print the project's and tfjs's versions. */
  version: boolean;
  preset: PresetName;
  /** Whether `--preset` was given (a resume keeps its run's preset, and refuses another). */
  presetGiven: boolean;
  stages: StageName[];
  out: string | undefined;
  cacheDir: string | undefined;
  resume: boolean;
  overrides: Partial<PipelineConfig>;
}

/** The `--help` text. */
export function helpText(): string {
  const rows: [string, string][] = [
    ["--preset seed|quick|smoke", "start from a preset (default seed: the tutorial's recipe)"],
    [`--stages LIST`, `comma list of ${STAGE_NAMES.join(",")} (default all; upstream stages run too)`],
    ["--out DIR", "the run folder (default runs/<time>-<preset>)"],
    ["--cache-dir DIR", "stage cache (default $XDG_CACHE_HOME/resnet-cifar-deno)"],
    ["--resume", "continue an interrupted run in --out from its last checkpoint"],
    ...CONFIG_FLAGS.map((f): [string, string] => [`--${f.flag} ${f.value}`, f.help]),
    ["--version", "the project's, tfjs's and Deno's versions"],
    ["--help", "this text"],
  ];
  const width = Math.max(...rows.map(([a]) => a.length)) + 2;
  return [
    "Usage: deno task pipeline [options]",
    "",
    "Trains ResNet on CIFAR-10 with TensorFlow.js on WebGPU: fetch → decode → augment → train → evaluate → visualize.",
    "Every config flag overrides the preset; the resolved config is written into <out>/run.json.",
    "",
    ...rows.map(([a, b]) => `  ${a.padEnd(width)}${b}`),
  ].join("\n");
}

/**
 * Parse the pipeline's arguments. Throws {@linkcode UsageError} (one line, exit 2) on an unknown option or a
 * bad value.
 */
export function parsePipelineArgs(argv: string[]): PipelineArgs {
  const options: Record<string, { type: "string" | "boolean" }> = {
    help: { type: "boolean" },
    version: { type: "boolean" },
    preset: { type: "string" },
    stages: { type: "string" },
    out: { type: "string" },
    "cache-dir": { type: "string" },
    resume: { type: "boolean" },
  };
  for (const f of CONFIG_FLAGS) options[f.flag] = { type: "string" };
  // parseArgs takes "-0.1" after a flag for an option ("argument is ambiguous"): a value that looks like a
  // negative number is joined to its flag, so the flag's own check gives the real message.
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith("--") ? argv[i].slice(2) : null;
    const next = argv[i + 1];
    if (
      name !== null && options[name]?.type === "string" && next !== undefined &&
      /^-(\d|\.\d|Infinity)/.test(next)
    ) {
      joined.push(`${argv[i]}=${next}`);
      i++;
    } else joined.push(argv[i]);
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: joined, options, strict: true, allowPositionals: false }));
  } catch (err) {
    const message = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new UsageError(`${message.replace(/\. To specify a positional.*$/, "")} (see --help)`);
  }
  const preset = (values.preset ?? "seed") as string;
  if (!(PRESET_NAMES as readonly string[]).includes(preset)) {
    throw new UsageError(`--preset must be one of ${PRESET_NAMES.join(", ")}, got "${preset}"`);
  }
  const stages = values.stages === undefined
    ? [...STAGE_NAMES]
    : String(values.stages).split(",").map((s) => s.trim());
  for (const s of stages) {
    if (!(STAGE_NAMES as readonly string[]).includes(s)) {
      throw new UsageError(`--stages: unknown stage "${s}" (stages: ${STAGE_NAMES.join(", ")})`);
    }
  }
  for (const flag of ["out", "cache-dir"]) {
    const value = values[flag];
    if (typeof value === "string" && value.trim() === "") {
      throw new UsageError(`--${flag} must name a folder, got "${value}"`);
    }
  }
  const overrides: Record<string, unknown> = {};
  for (const f of CONFIG_FLAGS) {
    const raw = values[f.flag];
    if (typeof raw === "string") overrides[f.key] = f.parse(raw, f.flag);
  }
  const o = overrides as Partial<PipelineConfig>;
  return {
    help: values.help === true,
    version: values.version === true,
    preset: preset as PresetName,
    presetGiven: values.preset !== undefined,
    stages: stages as StageName[],
    out: values.out as string | undefined,
    cacheDir: values["cache-dir"] as string | undefined,
    resume: values.resume === true,
    overrides: o,
  };
}

/** A shell word, quoted when it needs it. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command that resumes this run: `--resume --out DIR` plus every flag the resumed run needs and
 * run.json does not hold (`--cache-dir`, `--stages`). Config flags need not be repeated: `--resume` reads
 * them from run.json.
 *
 * @example
 * ```ts
 * const args = parsePipelineArgs(["--preset", "smoke", "--cache-dir", "/tmp/c", "--out", "runs/a b"]);
 * resumeCommand(args, "runs/a b"); // "deno task pipeline --resume --out 'runs/a b' --cache-dir /tmp/c"
 * ```
 */
export function resumeCommand(args: PipelineArgs, runDir: string): string {
  const words = ["deno", "task", "pipeline", "--resume", "--out", runDir];
  if (args.cacheDir !== undefined) words.push("--cache-dir", args.cacheDir);
  if (args.stages.length !== STAGE_NAMES.length) words.push("--stages", args.stages.join(","));
  return words.map(shellWord).join(" ");
}
