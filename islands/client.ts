/**
 * The browser entry of the dashboard (bundled into static/client.js): hydrates every server-rendered
 * island on the page from its `data-island` name and `data-props` JSON.
 *
 * @example
 * ```ts
 * // deno bundle --platform browser -o static/client.js islands/client.ts
 * ```
 * @module
 */
import { type FunctionComponent, h, hydrate } from "preact";
import { ISLANDS } from "./registry.ts";

for (const el of document.querySelectorAll<HTMLElement>("[data-island]")) {
  // deno-lint-ignore no-explicit-any
  const component = (ISLANDS as Record<string, FunctionComponent<any>>)[el.dataset.island ?? ""];
  if (!component) {
    console.error(`unknown island ${el.dataset.island}`);
    continue;
  }
  hydrate(h(component, JSON.parse(el.dataset.props ?? "{}")), el);
  el.dataset.hydrated = "true";
}
