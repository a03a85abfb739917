/**
 * The islands by name: the server writes the name into the page (`components/Island.tsx`) and the browser
 * bundle (`client.ts`) finds the component by it.
 *
 * @example
 * ```ts
 * import { ISLANDS } from "./registry.ts";
 * Object.keys(ISLANDS); // ["ClassifyBox", "CurvesChart", "PredictionExplorer", "RunMonitor"]
 * ```
 * @module
 */
import ClassifyBox from "./ClassifyBox.tsx";
import CurvesChart from "./CurvesChart.tsx";
import PredictionExplorer from "./PredictionExplorer.tsx";
import RunMonitor from "./RunMonitor.tsx";

/** Every island, by the name written into the page. */
export const ISLANDS = { ClassifyBox, CurvesChart, PredictionExplorer, RunMonitor } as const;

/** An island's name. */
export type IslandName = keyof typeof ISLANDS;
