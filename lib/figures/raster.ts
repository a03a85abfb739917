/**
 * SVG → pixels, text included: resvg (Rust, compiled to WebAssembly) with the DejaVu Sans TrueType fonts of
 * the `dejavu-fonts-ttf` npm package. The WebAssembly module and the fonts are read from the installed npm
 * packages, so rendering works offline once `deno install` has run; they are loaded once per process, on the
 * first call.
 *
 * The font package is imported statically (its package.json), so a stage that renders PNGs has the font's
 * version in its cache key beside resvg's.
 *
 * @example
 * ```ts
 * import { rasterizeSvg } from "./raster.ts";
 * const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="60" height="20"><text y="15">cat</text></svg>';
 * const image = await rasterizeSvg(svg);
 * console.log(image.width, image.height, image.channels); // 60 20 3
 * ```
 * @module
 */
import { createRequire } from "node:module";
import { initWasm, Resvg } from "@resvg/resvg-wasm";
import fontPackage from "dejavu-fonts-ttf/package.json" with { type: "json" };
import type { RasterImage } from "./png.ts";

/** The font family every figure names first; the fonts below provide it. */
export const FIGURE_FONT_FAMILY = "DejaVu Sans";

/** The TrueType files loaded from the `dejavu-fonts-ttf` package (regular and bold). */
export const FIGURE_FONT_FILES: readonly string[] = ["ttf/DejaVuSans.ttf", "ttf/DejaVuSans-Bold.ttf"];

/** The version of the font package the figures are drawn with. */
export const FIGURE_FONT_VERSION: string = fontPackage.version;

let loading: Promise<Uint8Array[]> | null = null;

async function readPackageFile(
  require: ReturnType<typeof createRequire>,
  specifier: string,
): Promise<Uint8Array> {
  try {
    return await Deno.readFile(require.resolve(specifier));
  } catch (err) {
    throw new Error(
      `Cannot render SVG to PNG: ${specifier} is not installed (${(err as Error).message}); run deno install`,
      { cause: err },
    );
  }
}

/** resvg's WebAssembly, initialized once, and the font files' bytes. */
function loadRenderer(): Promise<Uint8Array[]> {
  loading ??= (async () => {
    const require = createRequire(import.meta.url);
    await initWasm(await readPackageFile(require, "@resvg/resvg-wasm/index_bg.wasm"));
    return await Promise.all(FIGURE_FONT_FILES.map((f) => readPackageFile(require, `dejavu-fonts-ttf/${f}`)));
  })();
  // A failed load (a missing package) may be retried after `deno install`.
  loading.catch(() => loading = null);
  return loading;
}

/** Options of {@linkcode rasterizeSvg}. */
export interface RasterizeOptions {
  /** Opaque CSS colour under the drawing (default `#ffffff`). */
  background?: string;
  /** Pixels per SVG unit (default 1). */
  zoom?: number;
}

/**
 * Render an SVG document to 8-bit RGB pixels over an opaque background, its text drawn with DejaVu Sans.
 * Embedded raster images are scaled with nearest neighbour, so an image drawn at an integer scale and
 * position keeps its exact pixels.
 *
 * @example
 * ```ts
 * import { encodePng } from "./png.ts";
 * const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="80" height="20">' +
 *   '<text x="2" y="15" fill="#d62728">Pred: cat</text></svg>';
 * await Deno.writeFile("title.png", encodePng(await rasterizeSvg(svg, { zoom: 2 })));
 * ```
 */
export async function rasterizeSvg(svg: string, options: RasterizeOptions = {}): Promise<RasterImage> {
  const fonts = await loadRenderer();
  const zoom = options.zoom ?? 1;
  const resvg = new Resvg(svg, {
    background: options.background ?? "#ffffff",
    fitTo: zoom === 1 ? { mode: "original" } : { mode: "zoom", value: zoom },
    imageRendering: 1,
    font: {
      fontBuffers: fonts,
      defaultFontFamily: FIGURE_FONT_FAMILY,
      sansSerifFamily: FIGURE_FONT_FAMILY,
      serifFamily: FIGURE_FONT_FAMILY,
    },
  });
  try {
    const rendered = resvg.render();
    try {
      const { width, height } = rendered;
      const rgba = rendered.pixels;
      const data = new Uint8Array(width * height * 3);
      for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) {
        data[o] = rgba[i];
        data[o + 1] = rgba[i + 1];
        data[o + 2] = rgba[i + 2];
      }
      return { width, height, channels: 3, data };
    } finally {
      rendered.free();
    }
  } finally {
    resvg.free();
  }
}
