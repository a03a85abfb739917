/**
 * The dashboard: `deno task dashboard [--port 8000] [--host 127.0.0.1] [--runs runs]`.
 *
 * Serves the run folders under `--runs` on the loopback address by default. Before it starts it checks
 * that `static/client.js` (the islands' bundle) matches the islands' sources and rebuilds it when not.
 * `--build` only (re)builds the bundle and exits.
 *
 * @example
 * ```sh
 * deno task dashboard --runs runs --port 8000
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { createApp, isLoopbackName } from "./app.ts";
import { ensureClientBundle } from "@/lib/dashboard/mod.ts";
import { describeOsError, UsageError } from "@/lib/core/mod.ts";

const USAGE = `usage: deno task dashboard [--port 8000] [--host 127.0.0.1] [--runs DIR] [--build]

  --port N     port to listen on (default 8000; 0 picks a free one)
  --host H     address to bind (default 127.0.0.1, loopback only)
  --runs DIR   the folder that holds run folders (default "runs")
  --build      rebuild static/client.js from islands/ and exit`;

/** The dashboard's parsed options. */
export interface DashboardOptions {
  port: number;
  host: string;
  runs: string;
  build: boolean;
}

/**
 * Parse the dashboard's command line.
 *
 * @example
 * ```ts
 * const options = parseDashboardArgs(["--port", "9000"]);
 * if (options !== "help") console.log(options.port); // 9000
 * ```
 */
export function parseDashboardArgs(args: string[]): DashboardOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: "string", default: "8000" },
        host: { type: "string", default: "127.0.0.1" },
        runs: { type: "string", default: "runs" },
        build: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return "help";
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535) {
    throw new UsageError(`--port must be an integer from 0 to 65535, got ${values.port}`);
  }
  if (values.host.trim() === "") throw new UsageError("--host must not be empty");
  return { port, host: values.host, runs: values.runs, build: values.build };
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseDashboardArgs(Deno.args);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(err.toLine());
      console.error(USAGE);
      return err.exitCode;
    }
    throw err;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }
  try {
    const bundle = await ensureClientBundle({ force: options.build });
    if (bundle.rebuilt || options.build) console.log(`static/client.js rebuilt (${bundle.reason})`);
    else if (bundle.reason !== "up to date") console.warn(`warning: ${bundle.reason}`);
  } catch (err) {
    console.error(`error: [dashboard] Cannot build static/client.js: ${(err as Error).message}`);
    return 1;
  }
  if (options.build) return 0;
  try {
    const info = await Deno.stat(options.runs);
    if (!info.isDirectory) {
      console.warn(`warning: --runs ${options.runs} is not a folder; the list will be empty`);
    }
  } catch {
    console.warn(`warning: --runs ${options.runs} does not exist yet; the list will be empty until it does`);
  }
  const host = options.host.replace(/^\[(.*)\]$/, "$1");
  const everywhere = host === "0.0.0.0" || host === "::";
  if (!isLoopbackName(host)) {
    console.warn(
      everywhere
        ? `warning: --host ${options.host} serves the runs to every network this machine is on, ` +
          `and accepts any Host header`
        : `warning: --host ${options.host} serves the runs beyond this machine (requests must name ${host})`,
    );
  }
  const app = createApp({ runsDir: options.runs, allowedHosts: everywhere ? "any" : [host] });
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: host,
      port: options.port,
      onListen: ({ hostname, port }) => {
        const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
        console.log(`dashboard: http://${shown}:${port}/ (runs from ${options.runs})`);
      },
    }, app.fetch);
  } catch (err) {
    const why = err instanceof Deno.errors.AddrInUse
      ? "the address is in use (another dashboard? pick another --port, or --port 0 for a free one)"
      : err instanceof Deno.errors.AddrNotAvailable
      ? "no such address on this machine"
      : describeOsError(err);
    console.error(`error: [dashboard] Cannot listen on ${options.host}:${options.port}: ${why}`);
    return 1;
  }
  await server.finished;
  return 0;
}

if (import.meta.main) Deno.exit(await main());
