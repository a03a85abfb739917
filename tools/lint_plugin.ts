/**
 * The project's own lint rules, run by `deno lint` (deno.json `lint.plugins`):
 * - `house/max-function-lines`: no function in `lib/run/` is longer than 80 lines, so the runner reads as
 *   a few named steps.
 *
 * @example
 * ```ts
 * import plugin from "./lint_plugin.ts";
 * console.log(Object.keys(plugin.rules)); // ["max-function-lines"]
 * ```
 * @module
 */

/** The longest a function in a checked folder may be, in lines (its signature and closing brace included). */
export const MAX_FUNCTION_LINES = 80;
/** The folders whose functions are held to {@linkcode MAX_FUNCTION_LINES}. */
export const FUNCTION_LINES_CHECKED = ["/lib/run/"];

const plugin: Deno.lint.Plugin = {
  name: "house",
  rules: {
    "max-function-lines": {
      create(context) {
        if (!FUNCTION_LINES_CHECKED.some((dir) => context.filename.replaceAll("\\", "/").includes(dir))) {
          return {};
        }
        const check = (node: Deno.lint.Node) => {
          const [start, end] = node.range;
          const lines = context.sourceCode.text.slice(start, end).split("\n").length;
          if (lines > MAX_FUNCTION_LINES) {
            context.report({
              node,
              message: `this function is ${lines} lines; at most ${MAX_FUNCTION_LINES} in this folder`,
              hint: "split it into named steps",
            });
          }
        };
        return { FunctionDeclaration: check, FunctionExpression: check, ArrowFunctionExpression: check };
      },
    },
  },
};

export default plugin;
