/** The project's lint rule: no function in lib/run/ over 80 lines (deno.json `lint.plugins`). */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MAX_FUNCTION_LINES } from "../tools/lint_plugin.ts";

const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** `deno lint` with the project's config over a file at `relative` in a fresh folder. */
async function lint(relative: string, text: string) {
  const root = await Deno.makeTempDir({ prefix: "lint-plugin-" });
  const file = join(root, relative);
  await Deno.mkdir(join(file, ".."), { recursive: true });
  await Deno.writeTextFile(file, text);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["lint", "--config", CONFIG, file],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(root, { recursive: true });
  return {
    code: out.code,
    text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
  };
}

/** A function of `lines` lines, its signature and closing brace included. */
function functionOf(lines: number): string {
  const body = Array.from({ length: lines - 4 }, (_, i) => `  n += ${i};`);
  return ["export function f(): number {", "  let n = 0;", ...body, "  return n;", "}", ""].join("\n");
}

Deno.test("max-function-lines: 81 lines in lib/run/ is a lint error; 80 lines, or 81 elsewhere, is not", async () => {
  assert.equal(MAX_FUNCTION_LINES, 80);
  const long = await lint("lib/run/long.ts", functionOf(81));
  assert.equal(long.code, 1, long.text);
  assert.match(long.text, /house\/max-function-lines/);
  assert.match(long.text, /this function is 81 lines; at most 80 in this folder/);
  const ok = await lint("lib/run/ok.ts", functionOf(80));
  assert.equal(ok.code, 0, ok.text);
  const elsewhere = await lint("lib/data/long.ts", functionOf(81));
  assert.equal(elsewhere.code, 0, elsewhere.text);
});
