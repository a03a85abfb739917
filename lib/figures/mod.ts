/**
 * Figures without a browser: PNG and SVG (and SVG rendered to PNG, text included), image grids, and the
 * style shared with the dashboard's islands.
 *
 * @module
 */
export * from "./figures.ts";
export * from "./image_grid.ts";
export * from "./image_header.ts";
export * from "./image_input.ts";
export * from "./png.ts";
export * from "./raster.ts";
export * from "./style.ts";
export * from "./svg.ts";
