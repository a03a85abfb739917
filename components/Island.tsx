/**
 * Server side of an island: renders the component to HTML now and writes its name and props into the page,
 * where `islands/client.ts` hydrates it.
 *
 * @example
 * ```tsx
 * import { Island } from "./Island.tsx";
 * import type { CurveData } from "@/islands/types.ts";
 * declare const curve: CurveData;
 * export const island = <Island name="CurvesChart" props={{ series: [curve] }} />;
 * ```
 * @module
 */
import type { ComponentProps } from "preact";
import { type IslandName, ISLANDS } from "@/islands/registry.ts";

/** Props of {@linkcode Island}. */
export interface IslandProps<N extends IslandName> {
  name: N;
  props: ComponentProps<typeof ISLANDS[N]>;
}

/** An island: server-rendered, then hydrated in the browser with the same props. */
export function Island<N extends IslandName>({ name, props }: IslandProps<N>) {
  // deno-lint-ignore no-explicit-any
  const Component = ISLANDS[name] as any;
  return (
    <div class={`island island-${name}`} data-island={name} data-props={JSON.stringify(props)}>
      <Component {...props} />
    </div>
  );
}
